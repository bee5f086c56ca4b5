// CDCMTK: a small C door over DCMTK 3.6 (dcmdata, dcmjpeg, dcmjpls).
//
// Why it exists: Swift's C++ interop cannot use DCMTK's core API (tag macros,
// interior pointers, codec registration classes). This header is plain C with
// opaque handles and caller-owned buffers, so Swift imports it without C++
// interop. Every function catches every C++ exception and reports failure as a
// cdcm_status with a message; nothing is printed.
//
// Threads: codecs are registered once per process on first use. One handle must
// be used by one thread at a time; different handles may be used in parallel.
#ifndef CDCMTK_H
#define CDCMTK_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum {
    CDCM_OK = 0,
    CDCM_NOT_FOUND = 1,         // the attribute (or sequence item) is absent
    CDCM_ERROR = 2,             // reading or decoding failed; see message
    CDCM_BUFFER_TOO_SMALL = 3,  // *length/*frame_bytes says how much is needed
    CDCM_UNSUPPORTED = 4,       // e.g. a transfer syntax with no decoder here
};

#define CDCM_MESSAGE_CAPACITY 512

typedef struct cdcm_status {
    int code;
    char message[CDCM_MESSAGE_CAPACITY];
} cdcm_status;

typedef struct cdcm_file cdcm_file;

/// One step of a path into nested sequences. `tag` is (group << 16) | element.
/// Every step but the last selects item `item` (0-based) of the sequence `tag`;
/// the last step names the attribute itself (its `item` is ignored).
typedef struct cdcm_path_step {
    uint32_t tag;
    uint32_t item;
} cdcm_path_step;

/// Opens a DICOM file (with or without a Part 10 meta header). Large values such
/// as pixel data stay on disk until they are decoded.
cdcm_status cdcm_open_file(const char *path, cdcm_file **out);

/// Parses a DICOM object held in memory. The bytes are copied; the caller may
/// release them when this returns.
cdcm_status cdcm_open_memory(const void *bytes, size_t count, cdcm_file **out);

/// Releases a handle; NULL is allowed.
void cdcm_close(cdcm_file *file);

/// Reads the attribute at the end of `path` as text: all values, separated by
/// '\\', trailing padding removed, NUL-terminated. Group 0002 is read from the
/// meta header. `*length` receives the text length without the NUL; when
/// `capacity` is too small the result is CDCM_BUFFER_TOO_SMALL and nothing is
/// written. An attribute that is present with an empty value gives CDCM_OK and "".
cdcm_status cdcm_get_string(const cdcm_file *file, const cdcm_path_step *path, size_t depth,
                            char *buffer, size_t capacity, size_t *length);

/// The bytes of the (uncompressed) value at the end of `path` (OB, OW, native PixelData, in
/// the machine's byte order); `*length` receives their count; CDCM_BUFFER_TOO_SMALL when
/// `capacity` is too small (nothing written), CDCM_UNSUPPORTED for encapsulated pixel data.
cdcm_status cdcm_get_bytes(const cdcm_file *file, const cdcm_path_step *path, size_t depth,
                           void *buffer, size_t capacity, size_t *length);

/// Number of items of the sequence at the end of `path` (CDCM_NOT_FOUND when absent).
cdcm_status cdcm_count_items(const cdcm_file *file, const cdcm_path_step *path, size_t depth,
                             size_t *count);

typedef struct cdcm_pixel_info {
    int present;               // 1 when (7FE0,0010) PixelData is present
    int encapsulated;          // 1 when the pixel data is compressed (fragments)
    int decoder_available;     // 1 when this build can decode the transfer syntax
    int lossy;                 // 1 when the transfer syntax is lossy
    uint64_t value_length;     // bytes of native pixel data (0 when encapsulated)
    uint32_t fragments;        // compressed fragments (0 when native)
    char transfer_syntax_uid[72];
    char transfer_syntax_name[96];
} cdcm_pixel_info;

/// Describes the pixel data and the transfer syntax the object was read with.
cdcm_status cdcm_get_pixel_info(const cdcm_file *file, cdcm_pixel_info *info);

/// Decodes frame `frame` (0-based) into `buffer` as stored samples in the
/// machine's byte order (BitsAllocated per sample, samples interleaved as
/// PlanarConfiguration says for native data). `*frame_bytes` receives the
/// frame's size; `color_model` (optional, capacity `color_capacity`) receives
/// the photometric interpretation of the decoded samples, which may differ from
/// the stored one (JPEG YBR is returned as RGB).
cdcm_status cdcm_decode_frame(cdcm_file *file, uint32_t frame, void *buffer, size_t capacity,
                              size_t *frame_bytes, char *color_model, size_t color_capacity);

/// DCMTK's name of a well-known UID (SOP class, transfer syntax), or NULL when unknown.
const char *cdcm_uid_name(const char *uid);

/// DCMTK's version string, e.g. "3.6.7".
const char *cdcm_dcmtk_version(void);

// MARK: Storage SCP (dcmnet)

/// A DICOM Storage SCP over dcmnet's thread pool (one thread per association, up to
/// `max_associations` at once; beyond, refused with "local limit exceeded"): answers C-ECHO, takes
/// C-STORE of CT and MR images (classic and enhanced) and of segmentations (SEG, Label Map SEG,
/// RT Structure Set) in the common transfer syntaxes, refuses other
/// storage classes with status 0x0122 (received, not stored), and accepts only the calling AE
/// titles the `accept` callback allows. Each instance is written to a fresh file in
/// `output_directory` and handed to `stored`, which owns it from then on (moves or deletes it).
///
/// Connections are taken concurrently: each waits for its A-ASSOCIATE-RQ on a thread of its own,
/// so a connection that stays silent or sends slowly delays nobody else. One that has not sent
/// the whole request within the ACSE timeout, or sends something else, is closed; beyond
/// `max_pending_per_address` connections from one address waiting to associate (or 256 from all
/// addresses together), new ones are closed at once.
typedef struct cdcm_scp cdcm_scp;

typedef struct {
    uint16_t port;
    const char *ae_title;
    const char *output_directory;
    uint16_t max_associations;
    /// Seconds a connection may take to send its A-ASSOCIATE-RQ; also DCMTK's ACSE timeout (release).
    uint32_t acse_timeout_seconds;
    /// Seconds an association may stay silent while a command or dataset is awaited.
    uint32_t dimse_timeout_seconds;
    /// Connections from one IP address that may wait to associate at once.
    uint32_t max_pending_per_address;
    /// DICOM TLS (PEM files), or NULL for plain TCP: the port then takes TLS connections only
    /// (DICOM's non-downgrading BCP 195 profile: TLS 1.2 or newer, AES-GCM, an RSA certificate);
    /// with `tls_ca`, a peer must show a certificate that CA signed.
    const char *tls_certificate;
    const char *tls_key;
    const char *tls_ca;
} cdcm_scp_settings;

typedef struct {
    /// May this calling AE title (trailing spaces removed) from this peer address associate? Nonzero: yes.
    int (*accept)(void *context, const char *calling_ae, const char *peer_ip);
    /// An instance was stored at `path` (association: a number unique per association in this process).
    /// Nonzero: taken over; zero: it could not be kept (the peer is told: out of resources, 0xA700).
    int (*stored)(void *context, uint64_t association, const char *path, const char *calling_ae, const char *peer_ip,
                   const char *sop_class_uid, const char *sop_instance_uid, const char *study_instance_uid);
    /// An accepted association ended: released by the peer (released != 0) or aborted / broken.
    void (*ended)(void *context, uint64_t association, const char *calling_ae, int released);
    /// The port is bound and connections are taken from now on (called once, on the listening thread).
    void (*listening)(void *context);
    void *context;
} cdcm_scp_callbacks;

/// Checks the settings and prepares the SCP; nothing is bound until cdcm_scp_listen. The strings are copied.
cdcm_status cdcm_scp_create(const cdcm_scp_settings *settings, cdcm_scp **out);
/// Listens until cdcm_scp_stop (seen within 200 ms), then waits for the associations running. A
/// port that cannot be bound makes it return at once with the reason.
/// The callbacks are called on the association threads, at the same time for different associations.
cdcm_status cdcm_scp_listen(cdcm_scp *scp, cdcm_scp_callbacks callbacks);
void cdcm_scp_stop(cdcm_scp *scp);
void cdcm_scp_free(cdcm_scp *scp);

// ---- DICOM Segmentation (seg.cpp, DCMTK's dcmseg) ----

/// The segmentation's grid (the source series'), its identity and its equipment.
typedef struct cdcm_seg_settings {
    uint16_t rows, columns;
    uint32_t slices;
    double row_direction[3], column_direction[3];  // ImageOrientationPatient
    double pixel_spacing[2];                        // PixelSpacing: between rows, between columns (mm)
    double slice_thickness;                         // mm
    const char *series_uid, *instance_uid, *dimension_organization_uid;
    const char *source_series_uid;
    const char *series_description;
    int series_number;
    const char *manufacturer, *model, *serial, *software_version;
    const char *content_label, *content_description, *content_creator;
} cdcm_seg_settings;

/// The source image of one slice of the grid.
typedef struct cdcm_seg_slice {
    const char *source_path;  // the file (patient, study and frame of reference come from the first)
    const char *sop_class_uid, *sop_instance_uid;
    uint32_t frame;           // 0-based frame in that file
    uint32_t frames_in_file;
    double position[3];       // ImagePositionPatient of the slice (mm)
} cdcm_seg_slice;

/// One segment: the voxels whose label is `value`.
typedef struct cdcm_seg_segment {
    uint8_t value;
    const char *label;
    const char *category_code, *category_scheme, *category_meaning;  // CID 7150
    const char *type_code, *type_scheme, *type_meaning;              // CID 7151
    const char *family_code, *family_scheme, *family_meaning;        // CID 7162
    int automatic;            // AUTOMATIC, else SEMIAUTOMATIC
    const char *algorithm_name, *algorithm_version;
    uint16_t cielab[3];       // RecommendedDisplayCIELabValue (DICOM's scaled CIELab)
} cdcm_seg_segment;

/// Writes a BINARY Segmentation of `labels` (columns × rows × slices bytes, column fastest,
/// slice k on `slices[k]`), one segment per entry, frames only where a segment has voxels.
cdcm_status cdcm_write_seg(const cdcm_seg_settings *settings, const cdcm_seg_slice *slices,
                           const cdcm_seg_segment *segments, size_t segment_count, const uint8_t *labels,
                           const char *out_path);

/// An encapsulated document (STL, OBJ, MTL) of the source image's study: its patient and
/// study, its frame of reference (the document's coordinates are that of the patient, in mm),
/// a new series of `modality`, and what it was made from (a referenced instance, optional).
typedef struct cdcm_encap_settings {
    const char *source_path;
    const char *sop_class_uid, *mime_type, *modality;
    const char *series_uid, *instance_uid;
    int series_number;
    const char *series_description, *document_title, *software_version;
    const char *referenced_sop_class_uid, *referenced_sop_instance_uid, *referenced_series_uid;
} cdcm_encap_settings;

cdcm_status cdcm_write_encapsulated(const cdcm_encap_settings *settings, const uint8_t *document, size_t length,
                                    const char *out_path);

// ---- C-STORE as an SCU (storescu.cpp, DCMTK's DcmSCU) ----

typedef struct cdcm_store_settings {
    const char *host;
    uint16_t port;
    const char *calling_ae, *called_ae;
    int32_t connect_seconds;
    uint32_t acse_seconds, dimse_seconds;
    /// DICOM TLS (PEM files) when `tls_ca` is set: BCP 195 non-downgrading profile, the peer's
    /// certificate required and checked against `tls_ca`; this end shows `tls_certificate` with
    /// `tls_key` when they are set. NULL: plain TCP.
    const char *tls_certificate, *tls_key, *tls_ca;
} cdcm_store_settings;

/// Sends `files` (DICOM files with a meta header) to a peer in one association, one
/// presentation context per SOP class (the file's own transfer syntax, else explicit and
/// implicit little endian). `statuses[i]` is the peer's answer to file i (0 success; a
/// warning or failure code otherwise). A status other than OK means the association failed
/// (refused, timed out, aborted) and names why.
cdcm_status cdcm_store_files(const cdcm_store_settings *settings, const char *const *files, size_t count, uint16_t *statuses);

/// An RT Structure Set of the source series: ROIs drawn as closed planar contours on its
/// slices (`slices` as for a segmentation: the image of each), points in patient mm (x, y, z).
typedef struct cdcm_rt_settings {
    const char *source_series_uid, *series_uid, *instance_uid;
    const char *series_description, *label, *software_version;
    int series_number;
} cdcm_rt_settings;

typedef struct cdcm_rt_roi {
    int number;
    const char *name;
    uint8_t color[3];
    int automatic;
    const char *interpreted_type;  // RTROIInterpretedType (ORGAN, GTV, or "")
} cdcm_rt_roi;

typedef struct cdcm_rt_contour {
    uint32_t roi;          // index into the ROIs
    uint32_t slice;        // index into the slices: the image it is drawn on
    uint32_t first_point;  // its first point in `points` (triples)
    uint32_t point_count;
} cdcm_rt_contour;

cdcm_status cdcm_write_rtstruct(const cdcm_rt_settings *settings, const cdcm_seg_slice *slices, size_t slice_count,
                                const cdcm_rt_roi *rois, size_t roi_count, const cdcm_rt_contour *contours,
                                size_t contour_count, const double *points, const char *out_path);

// ---- De-identification (deidentify.cpp): a copy of one file under a confidentiality profile ----

/// What happens to an attribute. Private attributes (odd groups) are always removed, whatever the rules.
enum {
    CDCM_DEID_KEEP = 0,           // kept (a sequence: its items cleaned by the same rules)
    CDCM_DEID_REMOVE = 1,         // X: removed
    CDCM_DEID_EMPTY = 2,          // Z: kept with no value (a sequence: no item)
    CDCM_DEID_DUMMY = 3,          // D: a neutral value of its VR, or `value` (a sequence: its items cleaned)
    CDCM_DEID_UID = 4,            // U: each UID replaced through `replace_uid`
    CDCM_DEID_EMPTY_OR_UID = 5,   // Z, but a UI attribute's UIDs replaced and a sequence's items cleaned (X/Z/U*)
};

/// One rule: it applies to an attribute whose tag, masked by `mask`, equals `tag` (mask 0xFFFFFFFF: that tag
/// alone; 0xFF00FFFF: a repeating group such as overlays 60xx).
typedef struct cdcm_deid_rule {
    uint32_t tag, mask;
    int action;
    const char *value;  // CDCM_DEID_DUMMY: the value to write (NULL: a neutral value for the VR)
} cdcm_deid_rule;

typedef struct cdcm_deid_code {
    const char *value, *scheme, *meaning;
} cdcm_deid_code;

typedef struct cdcm_deid_settings {
    const cdcm_deid_rule *rules;
    size_t rule_count;
    /// Nonzero: every DA and DT value is moved by `shift_days` (dates kept, modified), times (TM) are kept,
    /// and the rules do not apply to DA, DT and TM attributes; zero: the rules apply to them too.
    int shift_dates;
    int32_t shift_days;
    /// Attributes never shifted nor kept in shift mode (e.g. the birth date): the rules apply to them.
    const uint32_t *never_shifted;
    size_t never_shifted_count;
    /// DeidentificationMethod (0012,0063) and the items of DeidentificationMethodCodeSequence (0012,0064), added
    /// after those the file has; PatientIdentityRemoved (0012,0062) is set to YES and
    /// LongitudinalTemporalInformationModified (0028,0303) to MODIFIED (shift mode) or REMOVED.
    const char *method;
    const cdcm_deid_code *codes;
    size_t code_count;
    /// Writes the replacement of `uid` into `out` (NUL-terminated, at most `capacity` bytes with the NUL);
    /// nonzero on success. Called for every UID a rule replaces, also inside sequences.
    int (*replace_uid)(void *context, const char *uid, char *out, size_t capacity);
    void *context;
} cdcm_deid_settings;

/// The new stored samples of frame `frame` (0-based) of the file: BitsAllocated per sample, the machine's byte order.
typedef struct cdcm_deid_frame {
    uint32_t frame;
    const void *samples;
    size_t bytes;
} cdcm_deid_frame;

/// Writes a de-identified copy of `in_path` to `out_path`: the rules applied to every attribute, in nested
/// sequences too, private attributes removed, the file meta information made anew. With no frames, the pixel data
/// is kept as it is, in the file's own transfer syntax (compressed data untouched); with frames, the pixel data is
/// native (the frames not given decoded from the file) and the copy is Explicit VR Little Endian.
cdcm_status cdcm_deidentify_file(const char *in_path, const char *out_path, const cdcm_deid_settings *settings,
                                 const cdcm_deid_frame *frames, size_t frame_count);

#ifdef __cplusplus
}
#endif

#endif
