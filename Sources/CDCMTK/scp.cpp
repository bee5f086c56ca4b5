// A DICOM Storage SCP (C-ECHO, C-STORE) over DCMTK's dcmnet SCP pool: one thread per
// association, up to a limit. See CDCMTK.h.
#include "dcmtk/config/osconfig.h"  // must come first

#include "dcmtk/dcmnet/scppool.h"
#include "dcmtk/dcmnet/scpthrd.h"
#include "dcmtk/dcmnet/diutil.h"
#include "dcmtk/dcmnet/dcmtrans.h"
#include "dcmtk/dcmnet/dul.h"
#include "dcmtk/dcmdata/dcfilefo.h"
#include "dcmtk/dcmdata/dcuid.h"
#include "dcmtk/dcmdata/dcdeftag.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <exception>
#include <set>
#include <string>
#include <vector>

#include "CDCMTK.h"

namespace {

cdcm_status scpStatus(int code, const std::string &message = std::string()) {
    cdcm_status status;
    status.code = code;
    std::snprintf(status.message, sizeof status.message, "%s", message.c_str());
    return status;
}

// Image storage classes taken in: CT, MR and their enhanced forms.
const std::set<std::string> &imageClasses() {
    static const std::set<std::string> classes = {
        UID_CTImageStorage, UID_EnhancedCTImageStorage, UID_MRImageStorage, UID_EnhancedMRImageStorage,
        UID_EnhancedMRColorImageStorage, UID_LegacyConvertedEnhancedCTImageStorage, UID_LegacyConvertedEnhancedMRImageStorage,
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

class Pool : public DcmBaseSCPPool {
public:
    cdcm_scp_callbacks callbacks{};
    std::string directory;
    std::atomic<bool> stopping{false};
    std::atomic<bool> listening{false};
    std::atomic<uint64_t> associations{0};
    std::atomic<uint64_t> files{0};

    // One association, on a thread of its own (the pool deletes the worker when it ends).
    class Worker : public DcmBaseSCPPool::DcmBaseSCPWorker, public DcmThreadSCP {
    public:
        explicit Worker(Pool &pool) : DcmBaseSCPPool::DcmBaseSCPWorker(pool), owner(pool) {}

        OFCondition setSharedConfig(const DcmSharedSCPConfig &config) override { return DcmThreadSCP::setSharedConfig(config); }
        OFBool busy() override { return isConnected(); }

    protected:
        OFCondition workerListen(T_ASC_Association *const assoc) override {
            association = ++owner.associations;
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
            DcmFileFormat file;
            DcmDataset *dataset = file.getDataset();
            // The dataset is always read off the wire, so that the next command is understood.
            OFCondition status = receiveSTORERequest(request, info.presentationContextID, dataset);
            if (status.bad()) {
                if (status == DIMSE_OUTOFRESOURCES) {
                    sendSTOREResponse(info.presentationContextID, request, STATUS_STORE_Refused_OutOfResources);
                }
                return status;
            }
            return sendSTOREResponse(info.presentationContextID, request, store(request, file));
        }

    private:
        Pool &owner;
        uint64_t association = 0;
        bool accepted = false, released = false;
        int socket = -1;
        std::string callingTitle;

        // Writes an image instance to a fresh file and hands it over; the DIMSE status to answer.
        Uint16 store(const T_DIMSE_C_StoreRQ &request, DcmFileFormat &file) {
            if (imageClasses().count(request.AffectedSOPClassUID) == 0) return STATUS_STORE_Refused_SOPClassNotSupported;
            DcmDataset *dataset = file.getDataset();
            if (dataset == nullptr || dataset->isEmpty()) return STATUS_STORE_Error_CannotUnderstand;
            OFString study;
            if (dataset->findAndGetOFString(DCM_StudyInstanceUID, study).bad() || study.empty()) {
                return STATUS_STORE_Error_CannotUnderstand;
            }
            char name[64];
            std::snprintf(name, sizeof name, "/%llu-%llu.dcm", static_cast<unsigned long long>(association),
                          static_cast<unsigned long long>(++owner.files));
            const std::string path = owner.directory + name;
            // Written as received (the transfer syntax kept), with a file meta header.
            if (file.saveFile(path.c_str(), EXS_Unknown).bad()) {
                std::remove(path.c_str());
                return STATUS_STORE_Refused_OutOfResources;
            }
            if (owner.callbacks.stored == nullptr ||
                owner.callbacks.stored(owner.callbacks.context, association, path.c_str(), callingTitle.c_str(),
                                       getPeerIP().c_str(), request.AffectedSOPClassUID, request.AffectedSOPInstanceUID,
                                       study.c_str()) == 0) {
                std::remove(path.c_str());
                return STATUS_STORE_Refused_OutOfResources;
            }
            return STATUS_Success;
        }
    };

protected:
    DcmBaseSCPWorker *createSCPWorker() override { return new Worker(*this); }
};

}  // namespace

struct cdcm_scp {
    Pool pool;
};

extern "C" {

cdcm_status cdcm_scp_create(uint16_t port, const char *ae_title, const char *output_directory, uint16_t max_associations,
                            cdcm_scp **out) {
    try {
        OFLog::configure(OFLogger::FATAL_LOG_LEVEL);
        auto *scp = new cdcm_scp();
        Pool &pool = scp->pool;
        pool.directory = output_directory;
        pool.setMaxThreads(max_associations == 0 ? 1 : max_associations);
        DcmSCPConfig &config = pool.getConfig();
        config.setPort(port);
        config.setAETitle(ae_title);
        config.setRespondWithCalledAETitle(OFFalse);
        config.setConnectionBlockingMode(DUL_NOBLOCK);
        config.setConnectionTimeout(1);
        // A peer that stops talking mid-association is dropped after a minute, not waited for.
        config.setDIMSEBlockingMode(DIMSE_NONBLOCKING);
        config.setDIMSETimeout(60);
        config.setACSETimeout(30);
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
        for (const char *uid : {UID_RTStructureSetStorage, UID_RTPlanStorage, UID_RTDoseStorage, UID_SecondaryCaptureImageStorage,
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
        OFCondition condition = pool.listen();
        pool.listening.store(false);
        if (condition.bad()) return scpStatus(CDCM_ERROR, condition.text());
        return scpStatus(CDCM_OK);
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
    // The pool sets itself to listen when listen() begins; asking again until it has returned
    // makes a stop right after the start hold.
    while (pool.listening.load()) {
        pool.stopAfterCurrentAssociations();
        usleep(50 * 1000);
    }
}

void cdcm_scp_free(cdcm_scp *scp) { delete scp; }

}  // extern "C"
