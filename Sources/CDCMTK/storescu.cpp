// C-STORE as an SCU (DCMTK's DcmSCU): a few files to a peer in one association.
#include "dcmtk/config/osconfig.h"  // must come first

#include "dcmtk/dcmdata/dctk.h"
#include "dcmtk/dcmnet/scu.h"
#include "dcmtk/dcmtls/tlsscu.h"

#include <cstdio>
#include <exception>
#include <map>
#include <memory>
#include <new>
#include <string>

#include "CDCMTK.h"

namespace {

cdcm_status storeStatus(int code, const std::string &message = std::string()) {
    cdcm_status status;
    status.code = code;
    std::snprintf(status.message, sizeof status.message, "%s", message.c_str());
    return status;
}

cdcm_status store(const cdcm_store_settings *settings, const char *const *files, size_t count, uint16_t *statuses) {
    // Each file's SOP class and transfer syntax, for the presentation contexts.
    std::map<std::string, std::string> classes;
    std::vector<std::string> fileClasses(count);
    for (size_t i = 0; i < count; ++i) {
        DcmFileFormat file;
        OFCondition loaded = file.loadFile(files[i], EXS_Unknown, EGL_noChange, 1024);
        if (loaded.bad()) return storeStatus(CDCM_ERROR, std::string("cannot read ") + files[i] + ": " + loaded.text());
        OFString sopClass, syntax;
        file.getMetaInfo()->findAndGetOFString(DCM_MediaStorageSOPClassUID, sopClass);
        file.getMetaInfo()->findAndGetOFString(DCM_TransferSyntaxUID, syntax);
        if (sopClass.empty()) return storeStatus(CDCM_ERROR, std::string(files[i]) + " has no SOP class in its meta header");
        fileClasses[i] = sopClass.c_str();
        classes[sopClass.c_str()] = syntax.c_str();
    }
    const bool secure = settings->tls_ca != nullptr;
    std::unique_ptr<DcmSCU> made(secure ? new DcmTLSSCU() : new DcmSCU());
    DcmSCU &scu = *made;
    if (secure) {
        auto &tls = static_cast<DcmTLSSCU &>(scu);
        tls.addTrustedCertFile(settings->tls_ca);
        tls.setPeerCertVerification(DCV_requireCertificate);
        // "": no passphrase (NULL would ask for one on standard input).
        if (settings->tls_certificate != nullptr && settings->tls_key != nullptr) {
            tls.enableAuthentication(settings->tls_key, settings->tls_certificate, "", DCF_Filetype_PEM, DCF_Filetype_PEM);
        }
    }
    scu.setAETitle(settings->calling_ae);
    scu.setPeerAETitle(settings->called_ae);
    scu.setPeerHostName(settings->host);
    scu.setPeerPort(settings->port);
    scu.setConnectionTimeout(settings->connect_seconds);
    scu.setACSETimeout(settings->acse_seconds);
    scu.setDIMSETimeout(settings->dimse_seconds);
    scu.setDIMSEBlockingMode(DIMSE_NONBLOCKING);
    for (const auto &entry : classes) {
        OFList<OFString> syntaxes;
        if (!entry.second.empty() && entry.second != UID_LittleEndianExplicitTransferSyntax &&
            entry.second != UID_LittleEndianImplicitTransferSyntax) {
            syntaxes.push_back(entry.second.c_str());
        }
        syntaxes.push_back(UID_LittleEndianExplicitTransferSyntax);
        syntaxes.push_back(UID_LittleEndianImplicitTransferSyntax);
        OFCondition added = scu.addPresentationContext(entry.first.c_str(), syntaxes);
        if (added.bad()) return storeStatus(CDCM_ERROR, std::string("presentation context: ") + added.text());
    }
    OFCondition condition = scu.initNetwork();
    if (condition.bad()) return storeStatus(CDCM_ERROR, std::string("network: ") + condition.text());
    if (secure) {
        // After initNetwork (DCMTK's order): TLS 1.2 or newer, AEAD suites only.
        condition = static_cast<DcmTLSSCU &>(scu).setTLSProfile(TSP_Profile_BCP195_ND);
        if (condition.bad()) return storeStatus(CDCM_ERROR, std::string("DICOM TLS profile: ") + condition.text());
    }
    condition = scu.negotiateAssociation();
    if (condition.bad()) {
        return storeStatus(CDCM_ERROR, std::string("association with ") + settings->called_ae + " at " + settings->host + ":" +
                                           std::to_string(settings->port) + " refused or failed: " + condition.text());
    }
    for (size_t i = 0; i < count; ++i) {
        T_ASC_PresentationContextID context = scu.findAnyPresentationContextID(fileClasses[i].c_str(), UID_LittleEndianExplicitTransferSyntax);
        if (context == 0) {
            scu.abortAssociation();
            return storeStatus(CDCM_ERROR, std::string(settings->called_ae) + " accepted no presentation context for " + fileClasses[i] +
                                               " (" + dcmFindNameOfUID(fileClasses[i].c_str(), "unknown SOP class") + ")");
        }
        Uint16 status = 0;
        condition = scu.sendSTORERequest(context, files[i], NULL, status);
        if (condition.bad()) {
            scu.abortAssociation();
            return storeStatus(CDCM_ERROR, std::string("C-STORE of ") + files[i] + ": " + condition.text());
        }
        statuses[i] = status;
    }
    scu.releaseAssociation();
    return storeStatus(CDCM_OK);
}

}  // namespace

extern "C" cdcm_status cdcm_store_files(const cdcm_store_settings *settings, const char *const *files, size_t count,
                                        uint16_t *statuses) {
    try {
        return store(settings, files, count, statuses);
    } catch (const std::bad_alloc &) {
        return storeStatus(CDCM_ERROR, "C-STORE: out of memory");
    } catch (const std::exception &error) {
        return storeStatus(CDCM_ERROR, std::string("C-STORE: ") + error.what());
    } catch (...) {
        return storeStatus(CDCM_ERROR, "C-STORE: unknown C++ exception");
    }
}
