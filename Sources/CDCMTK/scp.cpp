// A DICOM Storage SCP (C-ECHO, C-STORE) over DCMTK's dcmnet DcmStorageSCP. See CDCMTK.h.
#include "dcmtk/config/osconfig.h"  // must come first

#include "dcmtk/dcmnet/dstorscp.h"
#include "dcmtk/dcmnet/diutil.h"
#include "dcmtk/dcmdata/dcuid.h"
#include "dcmtk/dcmdata/dcdeftag.h"

#include <atomic>
#include <cstring>
#include <exception>
#include <mutex>
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

class Receiver : public DcmStorageSCP {
public:
    std::set<std::string> allowed;
    std::atomic<bool> stopping{false};
    cdcm_stored_callback callback = nullptr;
    void *context = nullptr;
    mutable std::mutex lock;

protected:
    OFBool checkCallingAETitleAccepted(const OFString &callingAE) override {
        std::string ae(callingAE.c_str());
        while (!ae.empty() && ae.back() == ' ') ae.pop_back();
        std::lock_guard<std::mutex> guard(lock);
        return allowed.count(ae) > 0;
    }

    Uint16 checkAndProcessSTORERequest(const T_DIMSE_C_StoreRQ &request, DcmFileFormat &file) override {
        if (imageClasses().count(request.AffectedSOPClassUID) == 0) return STATUS_STORE_Refused_SOPClassNotSupported;
        return DcmStorageSCP::checkAndProcessSTORERequest(request, file);
    }

    void notifyInstanceStored(const OFString &filename, const OFString &sopClassUID, const OFString &sopInstanceUID,
                              DcmDataset *) const override {
        if (callback) {
            callback(context, filename.c_str(), getPeerAETitle().c_str(), getPeerIP().c_str(), sopClassUID.c_str(),
                     sopInstanceUID.c_str());
        }
    }

    OFBool stopAfterConnectionTimeout() override { return stopping.load(); }
    OFBool stopAfterCurrentAssociation() override { return stopping.load(); }
};

}  // namespace

struct cdcm_scp {
    Receiver receiver;
};

extern "C" {

cdcm_status cdcm_scp_create(uint16_t port, const char *ae_title, const char *output_directory, cdcm_scp **out) {
    try {
        OFLog::configure(OFLogger::FATAL_LOG_LEVEL);
        auto *scp = new cdcm_scp();
        Receiver &r = scp->receiver;
        r.setPort(port);
        r.setAETitle(ae_title);
        r.setRespondWithCalledAETitle(OFFalse);
        r.setConnectionBlockingMode(DUL_NOBLOCK);
        r.setConnectionTimeout(1);
        r.setHostLookupEnabled(OFFalse);
        r.setDirectoryGenerationMode(DcmStorageSCP::DGM_NoSubdirectory);
        r.setFilenameGenerationMode(DcmStorageSCP::FGM_SOPInstanceUID);
        r.setFilenameExtension(".dcm");
        OFCondition condition = r.setOutputDirectory(output_directory);
        if (condition.bad()) {
            delete scp;
            return scpStatus(CDCM_ERROR, std::string(output_directory) + ": " + condition.text());
        }
        // Verification, and every storage class with the common transfer syntaxes (classes other
        // than CT and MR are refused per instance, with a status, not at association).
        OFList<OFString> syntaxes;
        for (const char *uid : {UID_LittleEndianExplicitTransferSyntax, UID_LittleEndianImplicitTransferSyntax,
                                UID_BigEndianExplicitTransferSyntax, UID_JPEGProcess1TransferSyntax,
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
            OFCondition added = r.addPresentationContext(uid, std::strcmp(uid, UID_VerificationSOPClass) == 0 ? verification : syntaxes,
                                                         ASC_SC_ROLE_DEFAULT, "VRPREP");
            if (added.bad()) {
                delete scp;
                return scpStatus(CDCM_ERROR, std::string("presentation context for ") + uid + ": " + added.text());
            }
        }
        // A profile of our own: DCMTK's "DEFAULT" profile is not valid for an SCP.
        OFCondition profile = r.setAndCheckAssociationProfile("VRPREP");
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

void cdcm_scp_allow_calling_ae(cdcm_scp *scp, const char *ae_title) {
    std::lock_guard<std::mutex> guard(scp->receiver.lock);
    scp->receiver.allowed.insert(ae_title);
}

cdcm_status cdcm_scp_listen(cdcm_scp *scp, cdcm_stored_callback callback, void *context) {
    try {
        scp->receiver.callback = callback;
        scp->receiver.context = context;
        OFCondition condition = scp->receiver.listen();
        if (condition.bad() && !scp->receiver.stopping.load()) return scpStatus(CDCM_ERROR, condition.text());
        return scpStatus(CDCM_OK);
    } catch (const std::exception &error) {
        return scpStatus(CDCM_ERROR, error.what());
    } catch (...) {
        return scpStatus(CDCM_ERROR, "unknown C++ exception");
    }
}

void cdcm_scp_stop(cdcm_scp *scp) { scp->receiver.stopping.store(true); }

void cdcm_scp_free(cdcm_scp *scp) { delete scp; }

}  // extern "C"
