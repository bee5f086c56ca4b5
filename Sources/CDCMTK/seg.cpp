// DICOM Segmentation (BINARY) on a source series' grid, through DCMTK's dcmseg.
#include "dcmtk/config/osconfig.h"  // must come first

#include "dcmtk/dcmdata/dctk.h"
#include "dcmtk/dcmdata/dcuid.h"
#include "dcmtk/dcmfg/fgderimg.h"
#include "dcmtk/dcmfg/fgfracon.h"
#include "dcmtk/dcmfg/fgpixmsr.h"
#include "dcmtk/dcmfg/fgplanor.h"
#include "dcmtk/dcmfg/fgplanpo.h"
#include "dcmtk/dcmiod/iodmacro.h"
#include "dcmtk/dcmiod/iodreferences.h"
#include "dcmtk/dcmseg/segdoc.h"
#include "dcmtk/dcmseg/segment.h"

#include <cstdio>
#include <cstring>
#include <exception>
#include <memory>
#include <set>
#include <new>
#include <string>
#include <vector>

#include "CDCMTK.h"

namespace {

cdcm_status segStatus(int code, const std::string &message = std::string()) {
    cdcm_status status;
    status.code = code;
    std::snprintf(status.message, sizeof status.message, "%s", message.c_str());
    return status;
}

std::string number(double value) {
    char text[32];
    std::snprintf(text, sizeof text, "%.10g", value);
    return text;
}

#define CHECK(call, what)                                                              \
    do {                                                                               \
        OFCondition condition_ = (call);                                               \
        if (condition_.bad()) return segStatus(CDCM_ERROR, std::string(what) + ": " + condition_.text()); \
    } while (0)

cdcm_status writeSeg(const cdcm_seg_settings *settings, const cdcm_seg_slice *slices, const cdcm_seg_segment *segments,
                     size_t segmentCount, const uint8_t *labels, const char *outPath) {
    IODGeneralEquipmentModule::EquipmentInfo equipment(settings->manufacturer, settings->model, settings->serial,
                                                       settings->software_version);
    ContentIdentificationMacro content("1", settings->content_label, settings->content_description, settings->content_creator);
    DcmSegmentation *raw = NULL;
    CHECK(DcmSegmentation::createBinarySegmentation(raw, settings->rows, settings->columns, equipment, content),
          "creating the segmentation");
    std::unique_ptr<DcmSegmentation> seg(raw);
    // Patient, study, frame of reference and general equipment from the first source image.
    CHECK(seg->importFromSourceImage(slices[0].source_path, OFTrue), "taking the patient and study from the source image");
    CHECK(seg->getSeries().setSeriesDescription(settings->series_description), "series description");
    CHECK(seg->getSeries().setSeriesNumber(number(settings->series_number).c_str()), "series number");
    CHECK(seg->getSeries().setSeriesInstanceUID(settings->series_uid), "series instance UID");
    CHECK(seg->getSOPCommon().setSOPInstanceUID(settings->instance_uid), "SOP instance UID");

    // One shared orientation and pixel measures for every frame.
    FGPlaneOrientationPatient orientation;
    CHECK(orientation.setImageOrientationPatient(number(settings->row_direction[0]), number(settings->row_direction[1]),
                                                 number(settings->row_direction[2]), number(settings->column_direction[0]),
                                                 number(settings->column_direction[1]), number(settings->column_direction[2])),
          "image orientation");
    CHECK(seg->addForAllFrames(orientation), "shared orientation");
    FGPixelMeasures measures;
    CHECK(measures.setPixelSpacing((number(settings->pixel_spacing[0]) + "\\" + number(settings->pixel_spacing[1])).c_str()),
          "pixel spacing");
    CHECK(measures.setSliceThickness(number(settings->slice_thickness).c_str()), "slice thickness");
    CHECK(seg->addForAllFrames(measures), "shared pixel measures");

    // Frames are indexed by segment, then by position.
    IODMultiframeDimensionModule &dimensions = seg->getDimensions();
    const char *organisation = settings->dimension_organization_uid;
    CHECK(dimensions.addDimensionIndex(DCM_ReferencedSegmentNumber, organisation, DCM_SegmentIdentificationSequence,
                                       "ReferencedSegmentNumber"),
          "segment dimension");
    CHECK(dimensions.addDimensionIndex(DCM_ImagePositionPatient, organisation, DCM_PlanePositionSequence, "ImagePositionPatient"),
          "position dimension");

    const size_t frameVoxels = static_cast<size_t>(settings->rows) * settings->columns;
    std::vector<Uint8> frame(frameVoxels);
    for (size_t s = 0; s < segmentCount; ++s) {
        const cdcm_seg_segment &info = segments[s];
        DcmSegment *segment = NULL;
        CHECK(DcmSegment::create(segment, info.label,
                                 CodeSequenceMacro(info.category_code, info.category_scheme, info.category_meaning),
                                 CodeSequenceMacro(info.type_code, info.type_scheme, info.type_meaning),
                                 info.automatic ? DcmSegTypes::SAT_AUTOMATIC : DcmSegTypes::SAT_SEMIAUTOMATIC, info.algorithm_name),
              "segment");
        std::unique_ptr<DcmSegment> owned(segment);
        AlgorithmIdentificationMacro &algorithm = segment->getSegmentationAlgorithmIdentification();
        CHECK(algorithm.getAlgorithmFamilyCode().set(info.family_code, info.family_scheme, info.family_meaning), "algorithm family");
        CHECK(algorithm.setAlgorithmVersion(info.algorithm_version), "algorithm version");
        CHECK(segment->setRecommendedDisplayCIELabValue(info.cielab[0], info.cielab[1], info.cielab[2]), "display colour");
        Uint16 segmentNumber = 0;
        CHECK(seg->addSegment(segment, segmentNumber), "adding the segment");
        owned.release();  // the segmentation owns it now
        for (uint32_t k = 0; k < settings->slices; ++k) {
            const uint8_t *slice = labels + frameVoxels * k;
            bool any = false;
            for (size_t i = 0; i < frameVoxels; ++i) {
                frame[i] = slice[i] == info.value ? 1 : 0;
                any = any || frame[i];
            }
            if (!any) continue;  // empty frames are left out, as the standard allows
            const cdcm_seg_slice &source = slices[k];
            FGPlanePosPatient *position = FGPlanePosPatient::createMinimal(number(source.position[0]), number(source.position[1]),
                                                                           number(source.position[2]));
            std::unique_ptr<FGPlanePosPatient> positionOwned(position);
            FGFrameContent content;
            CHECK(content.setDimensionIndexValues(segmentNumber, 0), "frame content (segment)");
            CHECK(content.setDimensionIndexValues(k + 1, 1), "frame content (position)");
            OFVector<ImageSOPInstanceReferenceMacro> references;
            OFVector<Uint16> frames;
            if (source.frames_in_file > 1) frames.push_back(static_cast<Uint16>(source.frame + 1));
            ImageSOPInstanceReferenceMacro *made = NULL;
            CHECK(ImageSOPInstanceReferenceMacro::create(source.sop_class_uid, source.sop_instance_uid, frames, made),
                  "referencing the source image");
            std::unique_ptr<ImageSOPInstanceReferenceMacro> reference(made);
            references.push_back(*reference);
            FGDerivationImage *derivation = DcmSegmentation::createDerivationImageFG(references, "Segmented by VRPrep");
            if (!derivation) return segStatus(CDCM_ERROR, "cannot make the derivation image reference");
            std::unique_ptr<FGDerivationImage> derivationOwned(derivation);
            OFVector<FGBase *> perFrame;
            perFrame.push_back(position);
            perFrame.push_back(&content);
            perFrame.push_back(derivation);
            CHECK(seg->addFrame(frame.data(), segmentNumber, perFrame), "adding a frame");
        }
    }
    if (seg->getNumberOfFrames() == 0) return segStatus(CDCM_ERROR, "every segment is empty: no frame to write");
    // Every source image, in the Common Instance Reference module (Referenced Series Sequence).
    OFString patientID, studyUID;
    seg->getPatient().getPatientID(patientID);
    seg->getStudy().getStudyInstanceUID(studyUID);
    IODReferences references;
    std::set<std::string> listed;
    for (uint32_t k = 0; k < settings->slices; ++k) {
        if (!listed.insert(slices[k].sop_instance_uid).second) continue;
        references.add(new IODImageReference(patientID, studyUID, settings->source_series_uid, slices[k].sop_instance_uid,
                                             slices[k].sop_class_uid));
    }
    if (seg->getCommonInstanceReference().addReferences(references, studyUID) == 0) {
        return segStatus(CDCM_ERROR, "cannot list the source images in the Common Instance Reference module");
    }
    // Each frame is the very pixels of its source image (same grid): Spatial Locations Preserved
    // is YES in every source image reference (dcmseg 3.6.7 has no setter for it), so that readers
    // may index the segmentation by its source images.
    DcmFileFormat file;
    CHECK(seg->writeDataset(*file.getDataset()), "making the segmentation's dataset");
    DcmSequenceOfItems *perFrame = NULL;
    if (file.getDataset()->findAndGetSequence(DCM_PerFrameFunctionalGroupsSequence, perFrame).good() && perFrame) {
        for (unsigned long f = 0; f < perFrame->card(); ++f) {
            DcmSequenceOfItems *derivations = NULL;
            if (perFrame->getItem(f)->findAndGetSequence(DCM_DerivationImageSequence, derivations).bad() || !derivations) continue;
            for (unsigned long d = 0; d < derivations->card(); ++d) {
                DcmSequenceOfItems *sources = NULL;
                if (derivations->getItem(d)->findAndGetSequence(DCM_SourceImageSequence, sources).bad() || !sources) continue;
                for (unsigned long i = 0; i < sources->card(); ++i) {
                    CHECK(sources->getItem(i)->putAndInsertString(DCM_SpatialLocationsPreserved, "YES"), "spatial locations preserved");
                }
            }
        }
    }
    CHECK(file.saveFile(outPath, EXS_LittleEndianExplicit), "writing the segmentation");
    return segStatus(CDCM_OK);
}

}  // namespace

extern "C" cdcm_status cdcm_write_seg(const cdcm_seg_settings *settings, const cdcm_seg_slice *slices,
                                      const cdcm_seg_segment *segments, size_t segment_count, const uint8_t *labels,
                                      const char *out_path) {
    try {
        return writeSeg(settings, slices, segments, segment_count, labels, out_path);
    } catch (const std::bad_alloc &) {
        return segStatus(CDCM_ERROR, "writing the segmentation: out of memory");
    } catch (const std::exception &error) {
        return segStatus(CDCM_ERROR, std::string("writing the segmentation: ") + error.what());
    } catch (...) {
        return segStatus(CDCM_ERROR, "writing the segmentation: unknown C++ exception");
    }
}

