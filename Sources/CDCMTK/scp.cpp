// A DICOM Storage SCP (C-ECHO, C-STORE) over DCMTK's dcmnet SCP pool: one thread per
// association, up to a limit. See CDCMTK.h.
//
// Why not DcmBaseSCPPool::listen(): it calls ASC_receiveAssociation() on its one listening
// thread, which accepts a connection and then reads the A-ASSOCIATE-RQ (the body even with no
// timeout at all), so one silent or slow connection holds up every other sender. Here the port is
// ours: each accepted connection gets a short-lived greeter thread that reads the whole
// A-ASSOCIATE-RQ itself, against a deadline; only then does DCMTK see the connection, through its
// dcmExternalSocketHandle (DUL then takes that socket instead of calling accept()) and a
// transport connection that hands DCMTK the bytes the greeter already read before reading the
// socket. So DCMTK never waits on a peer before the association is running on its own worker,
// exactly as the pool runs it (DcmBaseSCPPool::runAssociation, the limit, the same worker).
#include "dcmtk/config/osconfig.h"  // must come first

#include "dcmtk/dcmnet/scppool.h"
#include "dcmtk/dcmnet/scpthrd.h"
#include "dcmtk/dcmnet/diutil.h"
#include "dcmtk/dcmnet/dcmlayer.h"
#include "dcmtk/dcmnet/dcmtrans.h"
#include "dcmtk/dcmnet/dimse.h"
#include "dcmtk/dcmnet/dul.h"
#include "dcmtk/dcmdata/dcfilefo.h"
#include "dcmtk/dcmdata/dcuid.h"
#include "dcmtk/dcmdata/dcdeftag.h"
#include "dcmtk/dcmtls/tlslayer.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <exception>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "CDCMTK.h"

namespace {

cdcm_status scpStatus(int code, const std::string &message = std::string()) {
    cdcm_status status;
    status.code = code;
    std::snprintf(status.message, sizeof status.message, "%s", message.c_str());
    return status;
}

// Storage classes taken in: CT, MR and their enhanced forms, and segmentations of them made
// elsewhere (DICOM SEG, binary or fractional, the Label Map SEG, which DCMTK 3.6.7 does not name
// yet, and RT Structure Sets).
const std::set<std::string> &imageClasses() {
    static const std::set<std::string> classes = {
        UID_CTImageStorage, UID_EnhancedCTImageStorage, UID_MRImageStorage, UID_EnhancedMRImageStorage,
        UID_EnhancedMRColorImageStorage, UID_LegacyConvertedEnhancedCTImageStorage, UID_LegacyConvertedEnhancedMRImageStorage,
        UID_SegmentationStorage, "1.2.840.10008.5.1.4.1.1.66.7", UID_RTStructureSetStorage,
    };
    return classes;
}

std::string trimmed(const OFString &text) {
    std::string value(text.c_str());
    while (!value.empty() && value.back() == ' ') value.pop_back();
    while (!value.empty() && value.front() == ' ') value.erase(value.begin());
    return value;
}

// DcmTransportConnection::getSocket is protected; a member pointer named through a class that
// makes it public reaches it without touching the object's type.
struct TransportSocket : DcmTransportConnection {
    using DcmTransportConnection::getSocket;
};
constexpr auto socketOf = &TransportSocket::getSocket;

// The A-ASSOCIATE-RQ a greeter has read, waiting for DCMTK to take its connection. Set by the
// greeter (holding handleMutex()) for the one ASC_receiveAssociation() call of this thread.
struct Greeting {
    int socket = -1;
    std::vector<unsigned char> pdu;
    // On a TLS port: the connection whose handshake the greeter made (it owns the socket).
    std::unique_ptr<DcmTransportConnection> secure;
    // Whether DCMTK made a connection of the socket (and so owns it, closing it when dropped).
    bool taken = false;

    // Closes the connection unless DCMTK has taken it.
    void release() {
        if (taken) return;
        if (secure) {
            secure.reset();  // closes the TLS session and the socket
        } else if (socket >= 0) {
            close(socket);
        }
        socket = -1;
    }
};
thread_local Greeting *pendingGreeting = nullptr;

// dcmExternalSocketHandle is one global for all of DCMTK in this process, and every receiver of
// the process (tests run several) sets it: one lock for all of them.
std::mutex &handleMutex() {
    static std::mutex mutex;
    return mutex;
}

// A TCP connection whose first bytes are the A-ASSOCIATE-RQ the greeter read off the socket:
// DCMTK reads those first, then the socket, so it never waits for the peer while it reads the
// request (its body is read with no timeout at all).
// The bytes a greeter read before DCMTK took the connection, handed over first.
class HeldBytes {
public:
    explicit HeldBytes(std::vector<unsigned char> &&bytes) : head(std::move(bytes)) {}

    bool pending() const { return offset < head.size(); }

    // Copies up to `count` held bytes into `buffer`; their number (0 once all are handed over).
    ssize_t take(void *buffer, size_t count) {
        if (!pending()) return 0;
        const size_t n = std::min(count, head.size() - offset);
        std::memcpy(buffer, head.data() + offset, n);
        offset += n;
        // All handed over: the buffer goes, and the connection is read from now on.
        if (offset == head.size()) {
            std::vector<unsigned char>().swap(head);
            offset = 0;
        }
        return static_cast<ssize_t>(n);
    }

private:
    std::vector<unsigned char> head;
    size_t offset = 0;
};

class GreetedConnection : public DcmTCPConnection {
public:
    GreetedConnection(DcmNativeSocketType socket, std::vector<unsigned char> &&pdu) : DcmTCPConnection(socket), held(std::move(pdu)) {}

    ssize_t read(void *buffer, size_t count) override {
        return held.pending() ? held.take(buffer, count) : DcmTCPConnection::read(buffer, count);
    }
    OFBool networkDataAvailable(int timeout) override {
        return held.pending() || DcmTCPConnection::networkDataAvailable(timeout);
    }
    // While bytes are held here, DCMTK must ask networkDataAvailable() rather than poll the socket.
    OFBool isTransparentConnection() override { return !held.pending() && DcmTCPConnection::isTransparentConnection(); }

private:
    HeldBytes held;
};

// The same over TLS: the greeter made the handshake and read the request through the TLS
// session; DCMTK gets that session (its handshake done) with the request's bytes in front.
class GreetedTLSConnection : public DcmTransportConnection {
public:
    GreetedTLSConnection(DcmNativeSocketType socket, std::unique_ptr<DcmTransportConnection> &&session, std::vector<unsigned char> &&pdu)
        : DcmTransportConnection(socket), inner(std::move(session)), held(std::move(pdu)) {}

    // The handshake was made by the greeter, against its deadline.
    OFCondition serverSideHandshake() override { return EC_Normal; }
    OFCondition clientSideHandshake() override { return inner->clientSideHandshake(); }
    OFCondition renegotiate(const char *suite) override { return inner->renegotiate(suite); }
    ssize_t read(void *buffer, size_t count) override { return held.pending() ? held.take(buffer, count) : inner->read(buffer, count); }
    ssize_t write(void *buffer, size_t count) override { return inner->write(buffer, count); }
    void close() override { inner->close(); }
    void closeTransportConnection() override { inner->closeTransportConnection(); }
    unsigned long getPeerCertificateLength() override { return inner->getPeerCertificateLength(); }
    unsigned long getPeerCertificate(void *buffer, unsigned long length) override { return inner->getPeerCertificate(buffer, length); }
    OFBool networkDataAvailable(int timeout) override { return held.pending() || inner->networkDataAvailable(timeout); }
    OFBool isTransparentConnection() override { return OFFalse; }
    OFString &dumpConnectionParameters(OFString &text) override { return inner->dumpConnectionParameters(text); }

private:
    std::unique_ptr<DcmTransportConnection> inner;
    HeldBytes held;
};

// Makes the greeted connection of the socket this thread's greeting names; others as DCMTK does.
class GreetingLayer : public DcmTransportLayer {
public:
    DcmTransportConnection *createConnection(DcmNativeSocketType socket, OFBool secure) override {
        Greeting *greeting = pendingGreeting;
        if (greeting == nullptr || secure || greeting->socket != socket) return DcmTransportLayer::createConnection(socket, secure);
        pendingGreeting = nullptr;
        // DCMTK closes the socket itself when this returns NULL: either way it is no longer ours.
        greeting->taken = true;
        try {
            if (greeting->secure) return new GreetedTLSConnection(socket, std::move(greeting->secure), std::move(greeting->pdu));
            return new GreetedConnection(socket, std::move(greeting->pdu));
        } catch (...) {
            return nullptr;
        }
    }
};

// A-ASSOCIATE-RQ PDU: type 0x01, a reserved byte, a 4-byte big-endian length, then at least the
// 68-byte fixed part. Real requests (128 presentation contexts at most) stay far below 256 KiB.
constexpr unsigned char associateRQ = 0x01;
constexpr uint32_t minAssociateRQLength = 68;
constexpr uint32_t maxAssociateRQLength = 256 * 1024;
// Connections waiting to associate, from all addresses together: each is a thread and a buffer
// (at most 256 KiB, so 64 MiB in all at worst).
constexpr size_t maxGreetings = 256;

class Pool : public DcmBaseSCPPool {
public:
    cdcm_scp_callbacks callbacks{};
    std::string directory;
    uint16_t port = 0;
    int acseTimeout = 10;
    int dimseTimeout = 60;
    size_t maxPendingPerAddress = 16;
    // DICOM TLS (dcmtls over OpenSSL), when the port is secure: every connection's handshake is
    // made by its greeter, against the ACSE deadline, before the request is read.
    std::unique_ptr<DcmTLSTransportLayer> tls;
    std::atomic<bool> stopping{false};
    std::atomic<bool> listening{false};
    std::atomic<uint64_t> associations{0};
    std::atomic<uint64_t> files{0};

    // Listens until `stopping`, then waits for the associations running; an error message, or
    // empty. Replaces DcmBaseSCPPool::listen() (see the top of this file).
    std::string serve();

    // One association, on a thread of its own (the pool deletes the worker when it ends).
    class Worker : public DcmBaseSCPPool::DcmBaseSCPWorker, public DcmThreadSCP {
    public:
        explicit Worker(Pool &pool) : DcmBaseSCPPool::DcmBaseSCPWorker(pool), owner(pool) {}

        // Set by the thread that started this worker once DcmBaseSCPPool::runAssociation() has
        // returned. OFThread::start() writes the new thread's id into the worker after
        // pthread_create() returns, and the pool deletes a worker as its association ends: an
        // association that ended at once (a peer that closes straight after being accepted)
        // freed the worker before that write, and the write corrupted the heap. The worker waits
        // for this before it does anything.
        std::atomic<bool> launched{false};

        OFCondition setSharedConfig(const DcmSharedSCPConfig &config) override { return DcmThreadSCP::setSharedConfig(config); }
        OFBool busy() override { return isConnected(); }

    protected:
        OFCondition workerListen(T_ASC_Association *const assoc) override {
            while (!launched.load()) usleep(200);
            // Nobody joins a worker's thread (the pool deletes the worker as it ends, and stop
            // waits for the count of busy workers): detached, its stack is freed when it ends.
            pthread_detach(pthread_self());
            association = ++owner.associations;
            dulAssociation = assoc;
            accepted = released = false;
            // The pool's accepted sockets keep Nagle's algorithm: each C-STORE response (two small
            // writes) then waits for the peer's delayed ACK, about 40 ms per instance. Off here.
            if (assoc != nullptr) {
                if (DcmTransportConnection *connection = DUL_getTransportConnection(assoc->DULassociation)) {
                    socket = (connection->*socketOf)();
                    int on = 1;
                    setsockopt(socket, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
                }
            }
            return DcmThreadSCP::run(assoc);
        }

        OFBool checkCallingAETitleAccepted(const OFString &callingAE) override {
            callingTitle = trimmed(callingAE);
            if (owner.callbacks.accept == nullptr) return OFFalse;
            return owner.callbacks.accept(owner.callbacks.context, callingTitle.c_str(), getPeerIP().c_str()) != 0;
        }

        // DcmSCP accepts any called AE title by default: a sender that addresses another node
        // (a misrouted PACS rule) is told "called AE title not recognized" instead of being stored.
        OFBool checkCalledAETitleAccepted(const OFString &calledAE) override {
            return trimmed(calledAE) == trimmed(getAETitle());
        }

        void notifyAssociationAcknowledge() override { accepted = true; }

        // A sender that keeps Nagle's algorithm on holds the last small piece of each instance
        // until its data is acknowledged, and Linux delays ACKs up to 40 ms: acknowledge at once
        // while receiving (TCP_QUICKACK does not stay set, hence on every piece).
        void notifyRECEIVEProgress(const unsigned long) override {
            if (socket < 0) return;
            int on = 1;
            setsockopt(socket, IPPROTO_TCP, TCP_QUICKACK, &on, sizeof on);
        }
        void notifyReleaseRequest() override { released = true; }

        void notifyAssociationTermination() override {
            if (accepted && owner.callbacks.ended) {
                owner.callbacks.ended(owner.callbacks.context, association, callingTitle.c_str(), released ? 1 : 0);
            }
        }

        OFCondition handleIncomingCommand(T_DIMSE_Message *message, const DcmPresentationContextInfo &info) override {
            if (message->CommandField != DIMSE_C_STORE_RQ) return DcmThreadSCP::handleIncomingCommand(message, info);
            T_DIMSE_C_StoreRQ &request = message->msg.CStoreRQ;
            // The dataset is always read off the wire, so that the next command is understood.
            if (imageClasses().count(request.AffectedSOPClassUID) == 0) {
                DIC_UL bytes = 0, pieces = 0;
                OFCondition status = DIMSE_ignoreDataSet(dulAssociation, DIMSE_NONBLOCKING, owner.dimseTimeout, &bytes, &pieces);
                if (status.bad()) return status;
                return sendSTOREResponse(info.presentationContextID, request, STATUS_STORE_Refused_SOPClassNotSupported);
            }
            // Written to its file as it arrives (the transfer syntax kept, with a file meta header
            // made from the request), never held in memory whole: an instance may be gigabytes.
            char name[64];
            std::snprintf(name, sizeof name, "/%llu-%llu.dcm", static_cast<unsigned long long>(association),
                          static_cast<unsigned long long>(++owner.files));
            const std::string path = owner.directory + name;
            OFCondition status = receiveSTORERequest(request, info.presentationContextID, OFString(path.c_str()));
            if (status.bad()) {
                // DCMTK removes a partial file; a file it could not create gives "out of resources".
                std::remove(path.c_str());
                if (status == DIMSE_OUTOFRESOURCES) {
                    sendSTOREResponse(info.presentationContextID, request, STATUS_STORE_Refused_OutOfResources);
                }
                return status;
            }
            return sendSTOREResponse(info.presentationContextID, request, store(request, path));
        }

    private:
        Pool &owner;
        T_ASC_Association *dulAssociation = nullptr;
        uint64_t association = 0;
        bool accepted = false, released = false;
        int socket = -1;
        std::string callingTitle;

        // Hands over an image instance received into `path` (removed unless taken); the DIMSE
        // status to answer.
        Uint16 store(const T_DIMSE_C_StoreRQ &request, const std::string &path) {
            // Read up to the study instance UID only; large values stay on disk.
            DcmFileFormat file;
            OFString study;
            if (file.loadFileUntilTag(path.c_str(), EXS_Unknown, EGL_noChange, 4096, ERM_fileOnly, DCM_SeriesInstanceUID).bad() ||
                file.getDataset() == nullptr || file.getDataset()->findAndGetOFString(DCM_StudyInstanceUID, study).bad() ||
                trimmed(study).empty()) {
                std::remove(path.c_str());
                return STATUS_STORE_Error_CannotUnderstand;
            }
            if (owner.callbacks.stored == nullptr ||
                owner.callbacks.stored(owner.callbacks.context, association, path.c_str(), callingTitle.c_str(),
                                       getPeerIP().c_str(), request.AffectedSOPClassUID, request.AffectedSOPInstanceUID,
                                       trimmed(study).c_str()) == 0) {
                std::remove(path.c_str());
                return STATUS_STORE_Refused_OutOfResources;
            }
            return STATUS_Success;
        }
    };

protected:
    // The worker made on this thread by its last runAssociation() (created under the pool's
    // lock, on the calling thread), for its `launched`.
    static thread_local Worker *madeHere;
    DcmBaseSCPWorker *createSCPWorker() override {
        madeHere = new Worker(*this);
        return madeHere;
    }

private:
    // A connection waiting to associate, on its own thread.
    struct Greeter {
        std::thread thread;
        std::shared_ptr<std::atomic<bool>> done;
    };
    std::mutex greetersMutex;
    std::list<Greeter> greeters;                 // guarded by greetersMutex
    std::map<std::string, size_t> pendingByAddress;  // guarded by greetersMutex
    T_ASC_Network *network = nullptr;
    GreetingLayer layer;
    std::atomic<size_t> unstartedWorkers{0};

    bool admit(int socket, const std::string &from, const DcmSharedSCPConfig &shared);
    void greet(int socket, const DcmSharedSCPConfig &shared);
    bool readAssociateRQ(Greeting &greeting);
    bool handshake(Greeting &greeting);
    void associate(Greeting &greeting, const DcmSharedSCPConfig &shared);
    void reapGreeters(bool all);
};

std::string errnoText(const char *what) { return std::string(what) + ": " + std::strerror(errno); }

std::string Pool::serve() {
    const int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (listener < 0) return errnoText("cannot create the listening socket");
    int reuse = 1;
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &reuse, sizeof reuse);
    // IPv4 on every interface, as DCMTK's own listening socket (DUL reads the peer as IPv4).
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_ANY);
    address.sin_port = htons(port);
    if (bind(listener, reinterpret_cast<sockaddr *>(&address), sizeof address) != 0 || ::listen(listener, 64) != 0) {
        std::string message = errnoText("cannot listen");
        close(listener);
        return message;
    }
    // An acceptor network without a listening socket of DCMTK's own: DUL makes none when the
    // external handle is set (to any valid descriptor) as the network is made.
    OFCondition made;
    {
        std::lock_guard<std::mutex> lock(handleMutex());
        dcmExternalSocketHandle.set(listener);
        made = ASC_initializeNetwork(NET_ACCEPTOR, port, acseTimeout, &network);
        dcmExternalSocketHandle.set(DCMNET_INVALID_SOCKET);
    }
    if (made.good()) made = ASC_setTransportLayer(network, &layer, 0);
    if (made.bad()) {
        if (network != nullptr) ASC_dropNetwork(&network);
        close(listener);
        return std::string("cannot set up the DICOM network: ") + made.text();
    }
    // One configuration shared by all workers, as the pool's listen() makes it.
    DcmSharedSCPConfig shared(getConfig());
    if (callbacks.listening != nullptr) callbacks.listening(callbacks.context);
    while (!stopping.load()) {
        reapGreeters(false);
        // Short waits, so that a stop is seen within a fraction of a second.
        pollfd ready{listener, POLLIN, 0};
        if (poll(&ready, 1, 200) <= 0) continue;
        sockaddr_in peer{};
        socklen_t length = sizeof peer;
        const int socket = accept4(listener, reinterpret_cast<sockaddr *>(&peer), &length, SOCK_CLOEXEC);
        if (socket < 0) {
            // Out of descriptors: wait for some to close rather than spin on the pending connection.
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) usleep(100 * 1000);
            continue;
        }
        char text[INET_ADDRSTRLEN] = "";
        inet_ntop(AF_INET, &peer.sin_addr, text, sizeof text);
        if (!admit(socket, text, shared)) close(socket);
    }
    close(listener);
    // Greeters see `stopping` within their poll interval and close their connections.
    reapGreeters(true);
    // The associations running end on their own; the pool removes each worker as it ends.
    while (numThreads(OFTrue) > unstartedWorkers.load()) usleep(50 * 1000);
    ASC_dropNetwork(&network);
    return std::string();
}

// Gives the connection a greeter of its own unless its address, or all addresses together, have
// as many waiting to associate as allowed; false: not taken (the caller closes it). Whoever opens
// many connections and says nothing holds neither threads nor memory here beyond the limits.
bool Pool::admit(int socket, const std::string &from, const DcmSharedSCPConfig &shared) {
    std::lock_guard<std::mutex> lock(greetersMutex);
    if (greeters.size() >= maxGreetings) return false;
    auto known = pendingByAddress.find(from);
    if (known != pendingByAddress.end() && known->second >= maxPendingPerAddress) return false;
    // Room first, then the thread, which owns the socket from the moment it runs.
    bool placed = false;
    try {
        size_t &pending = pendingByAddress[from];
        greeters.emplace_back();
        placed = true;
        Greeter &greeter = greeters.back();
        greeter.done = std::make_shared<std::atomic<bool>>(false);
        std::shared_ptr<std::atomic<bool>> done = greeter.done;
        greeter.thread = std::thread([this, socket, from, done, &shared] {
            greet(socket, shared);
            std::lock_guard<std::mutex> lock(greetersMutex);
            auto entry = pendingByAddress.find(from);
            if (entry != pendingByAddress.end() && --entry->second == 0) pendingByAddress.erase(entry);
            done->store(true);
        });
        ++pending;
        return true;
    } catch (...) {
        // No memory or no thread (std::system_error): refused like a connection beyond the limits.
        if (placed) greeters.pop_back();
        auto entry = pendingByAddress.find(from);
        if (entry != pendingByAddress.end() && entry->second == 0) pendingByAddress.erase(entry);
        return false;
    }
}

void Pool::reapGreeters(bool all) {
    std::list<Greeter> ended;
    {
        std::lock_guard<std::mutex> lock(greetersMutex);
        for (auto it = greeters.begin(); it != greeters.end();) {
            auto next = std::next(it);
            if (all || it->done->load()) ended.splice(ended.end(), greeters, it);
            it = next;
        }
    }
    for (Greeter &greeter : ended) greeter.thread.join();
}

void Pool::greet(int socket, const DcmSharedSCPConfig &shared) {
    Greeting greeting;
    greeting.socket = socket;
    try {
        if ((tls && !handshake(greeting)) || !readAssociateRQ(greeting)) {
            greeting.release();
            return;
        }
        if (tls) {
            // DCMTK waits with its own timeouts from here on.
            timeval none{0, 0};
            setsockopt(socket, SOL_SOCKET, SO_RCVTIMEO, &none, sizeof none);
            setsockopt(socket, SOL_SOCKET, SO_SNDTIMEO, &none, sizeof none);
        }
        associate(greeting, shared);
    } catch (...) {
        // Nothing escapes a thread (out of memory, say): the connection is closed unless DCMTK
        // has taken it (then its association closes it).
        greeting.release();
    }
}

// The TLS handshake of a connection to a secure port, within the ACSE timeout (the socket's own
// timeouts bound each wait: a peer that says nothing, or speaks plain DICOM, is dropped); with a
// CA given, the peer's certificate must be one it signed. False: no secure session.
bool Pool::handshake(Greeting &greeting) {
    timeval limit{acseTimeout, 0};
    setsockopt(greeting.socket, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
    setsockopt(greeting.socket, SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof limit);
    DcmTransportConnection *session = tls->createConnection(greeting.socket, OFTrue);
    if (session == nullptr) return false;
    greeting.secure.reset(session);
    return session->serverSideHandshake().good();
}

// Reads one whole A-ASSOCIATE-RQ PDU (header included) before the ACSE timeout; false on a
// timeout, a stop, a closed or broken connection, or anything that is not such a PDU. Over TLS,
// through the greeter's session.
bool Pool::readAssociateRQ(Greeting &greeting) {
    using Clock = std::chrono::steady_clock;
    const Clock::time_point deadline = Clock::now() + std::chrono::seconds(acseTimeout);
    std::vector<unsigned char> &pdu = greeting.pdu;
    size_t need = 6, have = 0;
    pdu.resize(need);
    while (have < need) {
        if (stopping.load()) return false;
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
        if (left <= 0) return false;
        ssize_t n;
        if (greeting.secure) {
            // Seconds: a stop is seen within one (the socket's timeout bounds a partial record).
            if (!greeting.secure->networkDataAvailable(1)) continue;
            n = greeting.secure->read(pdu.data() + have, need - have);
            if (n <= 0) return false;
        } else {
            pollfd ready{greeting.socket, POLLIN, 0};
            const int polled = poll(&ready, 1, static_cast<int>(std::min<long long>(left, 200)));
            if (polled < 0 && errno != EINTR) return false;
            if (polled <= 0) continue;
            n = recv(greeting.socket, pdu.data() + have, need - have, MSG_DONTWAIT);
            if (n == 0) return false;
            if (n < 0) {
                if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) continue;
                return false;
            }
        }
        have += static_cast<size_t>(n);
        if (have == 6 && need == 6) {
            const uint32_t length = (uint32_t(pdu[2]) << 24) | (uint32_t(pdu[3]) << 16) | (uint32_t(pdu[4]) << 8) | uint32_t(pdu[5]);
            if (pdu[0] != associateRQ || length < minAssociateRQLength || length > maxAssociateRQLength) return false;
            need = 6 + length;
            pdu.resize(need);
        }
    }
    return true;
}

// Gives DCMTK the greeted connection (it reads the request from what the greeter read), then
// the association to a worker, as DcmBaseSCPPool::listen() does.
void Pool::associate(Greeting &greeting, const DcmSharedSCPConfig &shared) {
    T_ASC_Association *assoc = nullptr;
    OFCondition received;
    {
        std::lock_guard<std::mutex> lock(handleMutex());
        // Reset however this block is left: a handle left set would make every later receive of
        // any network in the process take this socket.
        struct Reset {
            ~Reset() {
                dcmExternalSocketHandle.set(DCMNET_INVALID_SOCKET);
                pendingGreeting = nullptr;
            }
        } reset;
        pendingGreeting = &greeting;
        dcmExternalSocketHandle.set(greeting.socket);
        received = ASC_receiveAssociation(network, &assoc, getConfig().getMaxReceivePDULength(), nullptr, nullptr, OFFalse,
                                          DUL_NOBLOCK, acseTimeout);
    }
    if (!greeting.taken) {
        // DCMTK failed before making a connection of the socket (getpeername, socket options).
        greeting.release();
        if (assoc != nullptr) ASC_destroyAssociation(&assoc);
        return;
    }
    if (received.bad()) {
        dropAndDestroyAssociation(assoc);
        return;
    }
    madeHere = nullptr;
    OFCondition running = runAssociation(assoc, shared);
    // Started (or not): from here the worker may run, end and be deleted; not touched again.
    if (madeHere != nullptr) madeHere->launched.store(true);
    madeHere = nullptr;
    // The pool keeps a worker whose thread could not start among the busy ones for good.
    if (running == NET_EC_CannotStartSCPThread) ++unstartedWorkers;
    if (running.bad()) {
        rejectAssociation(assoc, running == NET_EC_SCPBusy ? ASC_REASON_SP_PRES_LOCALLIMITEXCEEDED : ASC_REASON_SP_PRES_TEMPORARYCONGESTION);
        dropAndDestroyAssociation(assoc);
    }
}

thread_local Pool::Worker *Pool::madeHere = nullptr;

}  // namespace

struct cdcm_scp {
    Pool pool;
};

namespace {

// The secure transport connection profile of a TLS port: DICOM's non-downgrading BCP 195 profile
// (TLS 1.2 or newer, ECDHE/DHE with AES-GCM, RSA certificates), the service's key and
// certificate (which must match), and, with a CA, peers required to show a certificate it
// signed. An error message, or empty.
std::string makeTLS(Pool &pool, const cdcm_scp_settings *settings) {
    if (settings->tls_certificate == nullptr || settings->tls_key == nullptr) return "DICOM TLS needs both a certificate and a key";
    // OpenSSL is set up once per process (DCMTK's advice when several layers exist).
    static std::once_flag initialized;
    bool first = false;
    std::call_once(initialized, [&first] { first = true; });
    auto layer = std::make_unique<DcmTLSTransportLayer>(NET_ACCEPTOR, nullptr, first ? OFTrue : OFFalse);
    OFCondition result = layer->setTLSProfile(TSP_Profile_BCP195_ND);
    if (result.bad()) return std::string("DICOM TLS profile: ") + result.text();
    if (settings->tls_ca != nullptr) {
        result = layer->addTrustedCertificateFile(settings->tls_ca, DCF_Filetype_PEM);
        if (result.bad()) return std::string("--dicom-tls-ca ") + settings->tls_ca + ": not a PEM certificate (" + result.text() + ")";
        layer->setCertificateVerification(DCV_requireCertificate);
    } else {
        layer->setCertificateVerification(DCV_ignoreCertificate);
    }
    result = layer->setPrivateKeyFile(settings->tls_key, DCF_Filetype_PEM);
    if (result.bad()) return std::string("--dicom-tls-key ") + settings->tls_key + ": not a PEM private key without a passphrase (" + result.text() + ")";
    result = layer->setCertificateFile(settings->tls_certificate, DCF_Filetype_PEM);
    if (result.bad()) return std::string("--dicom-tls-cert ") + settings->tls_certificate + ": not a PEM certificate (" + result.text() + ")";
    if (!layer->checkPrivateKeyMatchesCertificate()) {
        return std::string("--dicom-tls-key ") + settings->tls_key + " is not the private key of --dicom-tls-cert " + settings->tls_certificate;
    }
    result = layer->activateCipherSuites();
    if (result.bad()) return std::string("DICOM TLS cipher suites: ") + result.text();
    pool.tls = std::move(layer);
    return std::string();
}

}  // namespace

extern "C" {

cdcm_status cdcm_scp_create(const cdcm_scp_settings *settings, cdcm_scp **out) {
    try {
        if (settings == nullptr || settings->ae_title == nullptr || settings->output_directory == nullptr) {
            return scpStatus(CDCM_ERROR, "no settings, AE title or output folder given");
        }
        if (settings->acse_timeout_seconds == 0 || settings->dimse_timeout_seconds == 0 || settings->max_pending_per_address == 0) {
            return scpStatus(CDCM_ERROR, "the ACSE and DIMSE timeouts and the connections waiting per address must be more than 0");
        }
        OFLog::configure(OFLogger::FATAL_LOG_LEVEL);
        auto *scp = new cdcm_scp();
        Pool &pool = scp->pool;
        pool.directory = settings->output_directory;
        pool.port = settings->port;
        pool.acseTimeout = static_cast<int>(std::min<uint32_t>(settings->acse_timeout_seconds, 86400));
        pool.dimseTimeout = static_cast<int>(std::min<uint32_t>(settings->dimse_timeout_seconds, 86400));
        pool.maxPendingPerAddress = settings->max_pending_per_address;
        if (settings->tls_certificate != nullptr || settings->tls_key != nullptr) {
            std::string failure = makeTLS(pool, settings);
            if (!failure.empty()) {
                delete scp;
                return scpStatus(CDCM_ERROR, failure);
            }
        }
        pool.setMaxThreads(settings->max_associations == 0 ? 1 : settings->max_associations);
        DcmSCPConfig &config = pool.getConfig();
        config.setPort(settings->port);
        config.setAETitle(settings->ae_title);
        config.setRespondWithCalledAETitle(OFFalse);
        // A peer that stops talking mid-association is dropped after the DIMSE timeout, not
        // waited for; the ACSE timeout bounds the association's negotiation and release.
        config.setDIMSEBlockingMode(DIMSE_NONBLOCKING);
        config.setDIMSETimeout(static_cast<Uint32>(pool.dimseTimeout));
        config.setACSETimeout(static_cast<Uint32>(pool.acseTimeout));
        config.setHostLookupEnabled(OFFalse);
        config.setMaxReceivePDULength(ASC_MAXIMUMPDUSIZE);
        config.setProgressNotificationMode(OFTrue);
        // Verification, and every storage class with the common transfer syntaxes (classes other
        // than CT and MR are refused per instance, with a status, not at association).
        OFList<OFString> syntaxes;
        for (const char *uid : {UID_LittleEndianExplicitTransferSyntax, UID_LittleEndianImplicitTransferSyntax,
                                UID_BigEndianExplicitTransferSyntax, UID_JPEGProcess1TransferSyntax,
                                UID_JPEGProcess2_4TransferSyntax, UID_JPEGProcess14TransferSyntax,
                                UID_JPEGProcess14SV1TransferSyntax, UID_JPEGLSLosslessTransferSyntax,
                                UID_JPEGLSLossyTransferSyntax, UID_JPEG2000LosslessOnlyTransferSyntax,
                                UID_JPEG2000TransferSyntax, UID_RLELosslessTransferSyntax,
                                UID_DeflatedExplicitVRLittleEndianTransferSyntax}) {
            syntaxes.push_back(uid);
        }
        OFList<OFString> verification;
        verification.push_back(UID_LittleEndianImplicitTransferSyntax);
        verification.push_back(UID_LittleEndianExplicitTransferSyntax);
        std::vector<const char *> classes = {UID_VerificationSOPClass};
        for (const auto &uid : imageClasses()) classes.push_back(uid.c_str());
        // Classes a PACS often pushes along with images: accepted at association so that each
        // instance gets a clear refusal (0x0122) instead of failing the whole association.
        for (const char *uid : {UID_RTPlanStorage, UID_RTDoseStorage, UID_SecondaryCaptureImageStorage,
                                UID_BasicTextSRStorage, UID_EnhancedSRStorage, UID_ComprehensiveSRStorage, UID_EncapsulatedPDFStorage,
                                UID_GrayscaleSoftcopyPresentationStateStorage, UID_PositronEmissionTomographyImageStorage,
                                UID_NuclearMedicineImageStorage, UID_ComputedRadiographyImageStorage,
                                UID_DigitalXRayImageStorageForPresentation, UID_UltrasoundImageStorage, UID_KeyObjectSelectionDocumentStorage}) {
            classes.push_back(uid);
        }
        for (const char *uid : classes) {
            OFCondition added = config.addPresentationContext(uid, std::strcmp(uid, UID_VerificationSOPClass) == 0 ? verification : syntaxes,
                                                              ASC_SC_ROLE_DEFAULT, "VRPREP");
            if (added.bad()) {
                delete scp;
                return scpStatus(CDCM_ERROR, std::string("presentation context for ") + uid + ": " + added.text());
            }
        }
        // A profile of our own: DCMTK's "DEFAULT" profile is not valid for an SCP.
        OFCondition profile = config.setAndCheckAssociationProfile("VRPREP");
        if (profile.bad()) {
            delete scp;
            return scpStatus(CDCM_ERROR, std::string("association profile: ") + profile.text());
        }
        *out = scp;
        return scpStatus(CDCM_OK);
    } catch (const std::exception &error) {
        return scpStatus(CDCM_ERROR, error.what());
    } catch (...) {
        return scpStatus(CDCM_ERROR, "unknown C++ exception");
    }
}

cdcm_status cdcm_scp_listen(cdcm_scp *scp, cdcm_scp_callbacks callbacks) {
    Pool &pool = scp->pool;
    pool.callbacks = callbacks;
    // `listening` before `stopping` here, the other way round in cdcm_scp_stop: a stop that
    // comes at any moment is seen by one side or the other.
    pool.listening.store(true);
    if (pool.stopping.load()) {
        pool.listening.store(false);
        return scpStatus(CDCM_OK);
    }
    try {
        // Returns once stopped, after the associations running have ended. A port in use makes
        // it return at once with the reason.
        const std::string failure = pool.serve();
        pool.listening.store(false);
        return failure.empty() ? scpStatus(CDCM_OK) : scpStatus(CDCM_ERROR, failure);
    } catch (const std::exception &error) {
        pool.listening.store(false);
        return scpStatus(CDCM_ERROR, error.what());
    } catch (...) {
        pool.listening.store(false);
        return scpStatus(CDCM_ERROR, "unknown C++ exception");
    }
}

void cdcm_scp_stop(cdcm_scp *scp) {
    Pool &pool = scp->pool;
    pool.stopping.store(true);
    // The accept loop and the greeters look at `stopping` at least every 200 ms.
    while (pool.listening.load()) usleep(50 * 1000);
}

void cdcm_scp_free(cdcm_scp *scp) { delete scp; }

}  // extern "C"
