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

/// The patient and study attributes of `from` (and empty type 2 ones it lacks) into `to`.
OFCondition copyPatientAndStudy(DcmDataset *from, DcmDataset *to) {
    const DcmTagKey copied[] = {DCM_SpecificCharacterSet, DCM_PatientName, DCM_PatientID, DCM_IssuerOfPatientID, DCM_PatientBirthDate,
                                DCM_PatientSex, DCM_PatientIdentityRemoved, DCM_DeidentificationMethod, DCM_StudyInstanceUID,
                                DCM_StudyDate, DCM_StudyTime, DCM_ReferringPhysicianName, DCM_StudyID, DCM_AccessionNumber,
                                DCM_StudyDescription};
    for (const DcmTagKey &tag : copied) {
        DcmElement *element = NULL;
        if (from->findAndGetElement(tag, element).good() && element) to->insert(OFstatic_cast(DcmElement *, element->clone()), OFTrue);
    }
    const DcmTagKey typeTwo[] = {DCM_PatientName, DCM_PatientID, DCM_PatientBirthDate, DCM_PatientSex, DCM_StudyDate, DCM_StudyTime,
                                 DCM_ReferringPhysicianName, DCM_StudyID, DCM_AccessionNumber};
    for (const DcmTagKey &tag : typeTwo) {
        if (!to->tagExists(tag)) {
            OFCondition condition = to->insertEmptyElement(tag);
            if (condition.bad()) return condition;
        }
    }
    return EC_Normal;
}

/// Today's date (YYYYMMDD) and the time (HHMMSS), as DICOM's DA and TM write them.
void today(char (&date)[16], char (&time)[16]) {
    OFDateTime now = OFDateTime::getCurrentDateTime();
    std::snprintf(date, sizeof date, "%04u%02u%02u", now.getDate().getYear(), now.getDate().getMonth(), now.getDate().getDay());
    std::snprintf(time, sizeof time, "%02u%02u%02u", now.getTime().getHour(), now.getTime().getMinute(),
                  static_cast<unsigned>(now.getTime().getSecond()));
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


// ---- Encapsulated documents (STL, OBJ, MTL) of a study ----

namespace {

cdcm_status writeEncapsulated(const cdcm_encap_settings *settings, const uint8_t *document, size_t length, const char *outPath) {
    DcmFileFormat source;
    CHECK(source.loadFile(settings->source_path, EXS_Unknown, EGL_noChange, 4096), "reading the source image");
    DcmDataset *from = source.getDataset();
    DcmFileFormat file;
    DcmDataset *to = file.getDataset();
    // Patient and study: as in the source images (these objects go back to their study).
    CHECK(copyPatientAndStudy(from, to), "patient and study");
    char date[16], time[16];
    today(date, time);
    // SOP common and the series.
    CHECK(to->putAndInsertString(DCM_SOPClassUID, settings->sop_class_uid), "SOP class");
    CHECK(to->putAndInsertString(DCM_SOPInstanceUID, settings->instance_uid), "SOP instance");
    CHECK(to->putAndInsertString(DCM_InstanceCreationDate, date), "creation date");
    CHECK(to->putAndInsertString(DCM_InstanceCreationTime, time), "creation time");
    CHECK(to->putAndInsertString(DCM_Modality, settings->modality), "modality");
    CHECK(to->putAndInsertString(DCM_SeriesInstanceUID, settings->series_uid), "series");
    CHECK(to->putAndInsertString(DCM_SeriesNumber, number(settings->series_number).c_str()), "series number");
    CHECK(to->putAndInsertString(DCM_SeriesDescription, settings->series_description), "series description");
    CHECK(to->putAndInsertString(DCM_SeriesDate, date), "series date");
    CHECK(to->putAndInsertString(DCM_SeriesTime, time), "series time");
    // Frame of reference: the source images' (the model is in their patient coordinates, mm).
    OFString frameOfReference;
    from->findAndGetOFString(DCM_FrameOfReferenceUID, frameOfReference);
    if (frameOfReference.empty()) return segStatus(CDCM_ERROR, "the source image has no FrameOfReferenceUID");
    CHECK(to->putAndInsertString(DCM_FrameOfReferenceUID, frameOfReference.c_str()), "frame of reference");
    CHECK(to->insertEmptyElement(DCM_PositionReferenceIndicator), "position reference indicator");
    // Enhanced general equipment.
    CHECK(to->putAndInsertString(DCM_Manufacturer, "VRPrep"), "manufacturer");
    CHECK(to->putAndInsertString(DCM_ManufacturerModelName, "VRPrep"), "model");
    CHECK(to->putAndInsertString(DCM_DeviceSerialNumber, "1"), "serial number");
    CHECK(to->putAndInsertString(DCM_SoftwareVersions, settings->software_version), "software version");
    // Manufacturing 3D model: millimetres (UCUM).
    DcmItem *units = NULL;
    CHECK(to->findOrCreateSequenceItem(DCM_MeasurementUnitsCodeSequence, units, 0), "measurement units");
    CHECK(units->putAndInsertString(DCM_CodeValue, "mm"), "unit code");
    CHECK(units->putAndInsertString(DCM_CodingSchemeDesignator, "UCUM"), "unit scheme");
    CHECK(units->putAndInsertString(DCM_CodeMeaning, "mm"), "unit meaning");
    // The document.
    CHECK(to->putAndInsertString(DCM_InstanceNumber, "1"), "instance number");
    CHECK(to->putAndInsertString(DCM_ContentDate, date), "content date");
    CHECK(to->putAndInsertString(DCM_ContentTime, time), "content time");
    CHECK(to->insertEmptyElement(DCM_AcquisitionDateTime), "acquisition date time");
    CHECK(to->putAndInsertString(DCM_BurnedInAnnotation, "NO"), "burned-in annotation");
    CHECK(to->putAndInsertString(DCM_DocumentTitle, settings->document_title), "document title");
    CHECK(to->insertEmptyElement(DCM_ConceptNameCodeSequence), "concept name");
    CHECK(to->putAndInsertString(DCM_MIMETypeOfEncapsulatedDocument, settings->mime_type), "MIME type");
    if (settings->referenced_sop_instance_uid && *settings->referenced_sop_instance_uid) {
        // What the model was made from: the segmentation.
        DcmItem *reference = NULL;
        CHECK(to->findOrCreateSequenceItem(DCM_SourceInstanceSequence, reference, 0), "source instance");
        CHECK(reference->putAndInsertString(DCM_ReferencedSOPClassUID, settings->referenced_sop_class_uid), "source SOP class");
        CHECK(reference->putAndInsertString(DCM_ReferencedSOPInstanceUID, settings->referenced_sop_instance_uid), "source SOP instance");
        // …and in the Common Instance Reference module (the same study).
        DcmItem *series = NULL, *instance = NULL;
        CHECK(to->findOrCreateSequenceItem(DCM_ReferencedSeriesSequence, series, 0), "referenced series");
        CHECK(series->putAndInsertString(DCM_SeriesInstanceUID, settings->referenced_series_uid), "referenced series UID");
        CHECK(series->findOrCreateSequenceItem(DCM_ReferencedInstanceSequence, instance, 0), "referenced instance");
        CHECK(instance->putAndInsertString(DCM_ReferencedSOPClassUID, settings->referenced_sop_class_uid), "referenced SOP class");
        CHECK(instance->putAndInsertString(DCM_ReferencedSOPInstanceUID, settings->referenced_sop_instance_uid), "referenced SOP instance");
    }
    // OB values have an even length: a document of odd length gets one byte of padding (its
    // length is in EncapsulatedDocumentLength).
    std::vector<Uint8> bytes(document, document + length);
    if (bytes.size() % 2) bytes.push_back(0);
    CHECK(to->putAndInsertUint8Array(DCM_EncapsulatedDocument, bytes.data(), static_cast<unsigned long>(bytes.size())), "document");
    CHECK(to->putAndInsertUint32(DCM_EncapsulatedDocumentLength, static_cast<Uint32>(length)), "document length");
    CHECK(file.saveFile(outPath, EXS_LittleEndianExplicit), "writing the document");
    return segStatus(CDCM_OK);
}

}  // namespace

extern "C" cdcm_status cdcm_write_encapsulated(const cdcm_encap_settings *settings, const uint8_t *document, size_t length,
                                               const char *out_path) {
    try {
        return writeEncapsulated(settings, document, length, out_path);
    } catch (const std::bad_alloc &) {
        return segStatus(CDCM_ERROR, "writing the encapsulated document: out of memory");
    } catch (const std::exception &error) {
        return segStatus(CDCM_ERROR, std::string("writing the encapsulated document: ") + error.what());
    } catch (...) {
        return segStatus(CDCM_ERROR, "writing the encapsulated document: unknown C++ exception");
    }
}

// ---- RT Structure Set of a study ----

namespace {

cdcm_status writeRTStruct(const cdcm_rt_settings *settings, const cdcm_seg_slice *slices, size_t sliceCount, const cdcm_rt_roi *rois,
                          size_t roiCount, const cdcm_rt_contour *contours, size_t contourCount, const double *points,
                          const char *outPath) {
    if (sliceCount == 0) return segStatus(CDCM_ERROR, "no source image");
    DcmFileFormat source;
    CHECK(source.loadFile(slices[0].source_path, EXS_Unknown, EGL_noChange, 4096), "reading the source image");
    DcmDataset *from = source.getDataset();
    DcmFileFormat file;
    DcmDataset *to = file.getDataset();
    CHECK(copyPatientAndStudy(from, to), "patient and study");
    OFString frameOfReference, studyUID;
    from->findAndGetOFString(DCM_FrameOfReferenceUID, frameOfReference);
    from->findAndGetOFString(DCM_StudyInstanceUID, studyUID);
    if (frameOfReference.empty()) return segStatus(CDCM_ERROR, "the source image has no FrameOfReferenceUID");
    char date[16], time[16];
    today(date, time);
    CHECK(to->putAndInsertString(DCM_SOPClassUID, UID_RTStructureSetStorage), "SOP class");
    CHECK(to->putAndInsertString(DCM_SOPInstanceUID, settings->instance_uid), "SOP instance");
    CHECK(to->putAndInsertString(DCM_InstanceCreationDate, date), "creation date");
    CHECK(to->putAndInsertString(DCM_InstanceCreationTime, time), "creation time");
    CHECK(to->putAndInsertString(DCM_Modality, "RTSTRUCT"), "modality");
    CHECK(to->putAndInsertString(DCM_SeriesInstanceUID, settings->series_uid), "series");
    CHECK(to->putAndInsertString(DCM_SeriesNumber, number(settings->series_number).c_str()), "series number");
    CHECK(to->putAndInsertString(DCM_SeriesDescription, settings->series_description), "series description");
    CHECK(to->insertEmptyElement(DCM_OperatorsName), "operators");
    CHECK(to->putAndInsertString(DCM_Manufacturer, "VRPrep"), "manufacturer");
    CHECK(to->putAndInsertString(DCM_ManufacturerModelName, "VRPrep"), "model");
    CHECK(to->putAndInsertString(DCM_SoftwareVersions, settings->software_version), "software version");
    CHECK(to->putAndInsertString(DCM_InstanceNumber, "1"), "instance number");
    CHECK(to->putAndInsertString(DCM_FrameOfReferenceUID, frameOfReference.c_str()), "frame of reference");
    CHECK(to->insertEmptyElement(DCM_PositionReferenceIndicator), "position reference indicator");
    CHECK(to->putAndInsertString(DCM_StructureSetLabel, settings->label), "structure set label");
    CHECK(to->putAndInsertString(DCM_StructureSetDate, date), "structure set date");
    CHECK(to->putAndInsertString(DCM_StructureSetTime, time), "structure set time");
    // The images the contours are drawn on: the source series, every slice.
    DcmItem *frameItem = NULL, *studyItem = NULL, *seriesItem = NULL;
    CHECK(to->findOrCreateSequenceItem(DCM_ReferencedFrameOfReferenceSequence, frameItem, 0), "referenced frame of reference");
    CHECK(frameItem->putAndInsertString(DCM_FrameOfReferenceUID, frameOfReference.c_str()), "frame of reference");
    CHECK(frameItem->findOrCreateSequenceItem(DCM_RTReferencedStudySequence, studyItem, 0), "referenced study");
    CHECK(studyItem->putAndInsertString(DCM_ReferencedSOPClassUID, "1.2.840.10008.3.1.2.3.1"), "referenced study class");
    CHECK(studyItem->putAndInsertString(DCM_ReferencedSOPInstanceUID, studyUID.c_str()), "referenced study UID");
    CHECK(studyItem->findOrCreateSequenceItem(DCM_RTReferencedSeriesSequence, seriesItem, 0), "referenced series");
    CHECK(seriesItem->putAndInsertString(DCM_SeriesInstanceUID, settings->source_series_uid), "referenced series UID");
    std::set<std::string> listed;
    long imageIndex = 0;
    for (size_t k = 0; k < sliceCount; ++k) {
        if (!listed.insert(slices[k].sop_instance_uid).second) continue;
        DcmItem *image = NULL;
        CHECK(seriesItem->findOrCreateSequenceItem(DCM_ContourImageSequence, image, imageIndex++), "contour image");
        CHECK(image->putAndInsertString(DCM_ReferencedSOPClassUID, slices[k].sop_class_uid), "contour image class");
        CHECK(image->putAndInsertString(DCM_ReferencedSOPInstanceUID, slices[k].sop_instance_uid), "contour image instance");
    }
    // The ROIs, their contours, their observations.
    std::vector<long> contoursOfRoi(roiCount, 0);
    for (size_t r = 0; r < roiCount; ++r) {
        const cdcm_rt_roi &roi = rois[r];
        DcmItem *setItem = NULL, *contourItem = NULL, *observation = NULL;
        CHECK(to->findOrCreateSequenceItem(DCM_StructureSetROISequence, setItem, static_cast<long>(r)), "structure set ROI");
        CHECK(setItem->putAndInsertString(DCM_ROINumber, number(roi.number).c_str()), "ROI number");
        CHECK(setItem->putAndInsertString(DCM_ReferencedFrameOfReferenceUID, frameOfReference.c_str()), "ROI frame of reference");
        CHECK(setItem->putAndInsertString(DCM_ROIName, roi.name), "ROI name");
        CHECK(setItem->putAndInsertString(DCM_ROIGenerationAlgorithm, roi.automatic ? "AUTOMATIC" : "SEMIAUTOMATIC"), "ROI algorithm");
        CHECK(to->findOrCreateSequenceItem(DCM_ROIContourSequence, contourItem, static_cast<long>(r)), "ROI contour");
        char colour[32];
        std::snprintf(colour, sizeof colour, "%u\\%u\\%u", roi.color[0], roi.color[1], roi.color[2]);
        CHECK(contourItem->putAndInsertString(DCM_ROIDisplayColor, colour), "ROI colour");
        CHECK(contourItem->putAndInsertString(DCM_ReferencedROINumber, number(roi.number).c_str()), "referenced ROI");
        CHECK(to->findOrCreateSequenceItem(DCM_RTROIObservationsSequence, observation, static_cast<long>(r)), "observation");
        CHECK(observation->putAndInsertString(DCM_ObservationNumber, number(roi.number).c_str()), "observation number");
        CHECK(observation->putAndInsertString(DCM_ReferencedROINumber, number(roi.number).c_str()), "observation ROI");
        CHECK(observation->putAndInsertString(DCM_RTROIInterpretedType, roi.interpreted_type), "interpreted type");
        CHECK(observation->insertEmptyElement(DCM_ROIInterpreter), "interpreter");
    }
    std::string data;
    for (size_t c = 0; c < contourCount; ++c) {
        const cdcm_rt_contour &contour = contours[c];
        if (contour.roi >= roiCount || contour.slice >= sliceCount) return segStatus(CDCM_ERROR, "a contour names no ROI or slice");
        DcmItem *roiItem = NULL, *item = NULL, *image = NULL;
        CHECK(to->findOrCreateSequenceItem(DCM_ROIContourSequence, roiItem, static_cast<long>(contour.roi)), "ROI contour");
        CHECK(roiItem->findOrCreateSequenceItem(DCM_ContourSequence, item, contoursOfRoi[contour.roi]++), "contour");
        CHECK(item->findOrCreateSequenceItem(DCM_ContourImageSequence, image, 0), "contour's image");
        CHECK(image->putAndInsertString(DCM_ReferencedSOPClassUID, slices[contour.slice].sop_class_uid), "contour's image class");
        CHECK(image->putAndInsertString(DCM_ReferencedSOPInstanceUID, slices[contour.slice].sop_instance_uid), "contour's image instance");
        CHECK(item->putAndInsertString(DCM_ContourGeometricType, "CLOSED_PLANAR"), "contour type");
        CHECK(item->putAndInsertString(DCM_NumberOfContourPoints, number(contour.point_count).c_str()), "contour points");
        data.clear();
        for (uint32_t p = 0; p < contour.point_count; ++p) {
            for (int axis = 0; axis < 3; ++axis) {
                char value[24];
                std::snprintf(value, sizeof value, "%.6g", points[3 * (contour.first_point + p) + axis]);
                if (!data.empty()) data += '\\';
                data += value;
            }
        }
        CHECK(item->putAndInsertString(DCM_ContourData, data.c_str()), "contour data");
    }
    CHECK(file.saveFile(outPath, EXS_LittleEndianExplicit), "writing the structure set");
    return segStatus(CDCM_OK);
}

}  // namespace

extern "C" cdcm_status cdcm_write_rtstruct(const cdcm_rt_settings *settings, const cdcm_seg_slice *slices, size_t slice_count,
                                           const cdcm_rt_roi *rois, size_t roi_count, const cdcm_rt_contour *contours,
                                           size_t contour_count, const double *points, const char *out_path) {
    try {
        return writeRTStruct(settings, slices, slice_count, rois, roi_count, contours, contour_count, points, out_path);
    } catch (const std::bad_alloc &) {
        return segStatus(CDCM_ERROR, "writing the structure set: out of memory");
    } catch (const std::exception &error) {
        return segStatus(CDCM_ERROR, std::string("writing the structure set: ") + error.what());
    } catch (...) {
        return segStatus(CDCM_ERROR, "writing the structure set: unknown C++ exception");
    }
}
