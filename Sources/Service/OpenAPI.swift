/// The API's description (OpenAPI 3.0), served at `GET /openapi.yaml`; a test checks it against
/// the router's routes, both ways.
public enum OpenAPI {
    public static let yaml = """
        openapi: 3.0.3
        info:
          title: VRPrep service
          version: "1"
          description: >
            Upload a CT or MRI study, follow the job that turns it into a de-identified scene package
            (vrprep.scene/1), fetch the package, and share it read-only. Bearer tokens carry a role
            (submitter, host, trainer, admin); share tokens (vrs_…) open one package, as a bearer token
            or as ?share=. Errors answer {"error": {"message": "…"}}. HEAD is answered wherever GET is.
            Every answer carries a Content-Security-Policy, X-Content-Type-Options: nosniff and
            Referrer-Policy: no-referrer; identified data (studies, jobs, the audit trail) Cache-Control:
            no-store. CORS is closed unless the service names origins (--cors-origin). An address with
            too many failed sign-ins is answered 429 with Retry-After.
        components:
          securitySchemes:
            bearer:
              type: http
              scheme: bearer
          responses:
            Error:
              description: 'The request refused (400 a bad value, named; 401 no valid token; 403 another owner''s or another role''s; 404 not found; 409, 410, 413, 415, 422, 429 too many failed sign-ins, with Retry-After) or the service failed (5xx).'
              content:
                application/json:
                  schema: {$ref: '#/components/schemas/Error'}
          schemas:
            Error:
              type: object
              required: [error]
              properties:
                error:
                  type: object
                  required: [message]
                  properties:
                    message: {type: string}
                    code: {type: string, description: 'What went wrong, for a page to say it in the reader''s language.'}
                    values: {type: object, additionalProperties: {type: string}}
            Job:
              type: object
              properties:
                id: {type: string}
                state: {type: string, enum: [queued, running, done, failed, cancelled]}
                stage: {type: string}
                percent: {type: integer}
                error: {type: string}
                packageId: {type: string}
                studyId: {type: string, description: 'The study it makes a package of.'}
                source:
                  type: object
                  description: '{"kind": "upload"} or {"kind": "dicom", "callingAE", "peer"}'
                instances: {type: integer, description: 'Instances received (studies received by DICOM).'}
                warnings: {type: array, items: {type: string}, description: 'What loading the study found (empty until it is loaded).'}
                rejected:
                  type: array
                  description: 'Every file of the study that was not used, named inside the study, with the reason.'
                  items:
                    type: object
                    properties:
                      path: {type: string}
                      reason: {type: string}
                returned:
                  type: object
                  description: 'Its results going back to the hospital (a study from a DICOM peer with a returnTo): state (pending, sending, done, failed), to {ae, host, port}, instances sent, the last error, attempts, nextAttemptAt (when pending). A failed send is tried again after 5 s, 30 s, 2 min and 10 min, then failed; the package is never touched.'
        security:
          - bearer: []
        paths:
          /healthz:
            get:
              summary: Liveness, and whether the records (SQLite or PostgreSQL) answer.
              security: []
              responses:
                default: {$ref: '#/components/responses/Error'}
                "200": {description: '{"status": "ok"}'}
                "503": {description: '{"status": "unavailable", "reason": …}: the records do not answer.'}
          /metrics:
            get:
              summary: Prometheus text (jobs by state, packages, resident memory), for an admin token.
              responses:
                default: {$ref: '#/components/responses/Error'}
                "200": {description: 'Metrics in the Prometheus text format.'}
                "401": {description: 'No admin token.'}
          /openapi.yaml:
            get:
              summary: This description.
              security: []
              responses:
                default: {$ref: '#/components/responses/Error'}
                "200": {description: 'OpenAPI 3.0 YAML.'}
          /app:
            get:
              summary: 'The clinician''s workstation (HTML; ?lang=en|ja|es|pt, else Accept-Language): sign in with a token, studies, jobs and scenes, three linked views, seeds, previews, the scene built.'
              security: []
              responses:
                default: {$ref: '#/components/responses/Error'}
                "200": {description: 'The page.', content: {text/html: {schema: {type: string}}}}
          /v1/studies:
            get:
              summary: 'The caller''s studies, newest first (all, for an admin), with what each holds once inspected (else null).'
              responses:
                default: {$ref: '#/components/responses/Error'}
                "200": {description: '{"studies": [{"id", "createdAt", "source", "modality", "dimensions", "spacing"}]}'}
            post:
              summary: 'Upload a study (submitter, admin): it is kept as a study (its owner''s, until deleted or the service''s --keep-studies-days), and a job makes its package unless ?process=false.'
              parameters:
                - {name: process, in: query, required: false, schema: {type: string, enum: ["false"]}, description: 'false: keep the study, start no job.'}
                - {name: profile, in: query, required: false, schema: {type: string, enum: [desktop, headset, phone, print]}, description: 'What the scene is for: desktop (default; levels of detail), headset (whole scene at most 250,000 triangles), phone (500,000) or print (full surfaces, STL and OBJ, each closed). Unknown: 400.'}
              requestBody:
                required: true
                content:
                  application/zip: {schema: {type: string, format: binary}}
                  multipart/form-data: {schema: {type: object}}
              responses:
                default: {$ref: '#/components/responses/Error'}
                "201": {description: '{"studyId": "…"} (with ?process=false); Location: /v1/studies/{id}'}
                "202": {description: '{"jobId": "…", "studyId": "…"}; Location: /v1/studies/{id}'}
                "400": {description: 'A broken multipart body.'}
                "401": {description: 'No or unknown token.'}
                "403": {description: 'A role that cannot upload.'}
                "413": {description: 'Over the size limit.'}
                "415": {description: 'Neither a zip nor a form.'}
                "422": {description: 'Not a usable study (paths leaving the archive, a zip bomb, no DICOM file).'}
          /v1/studies/{id}:
            parameters:
              - {name: id, in: path, required: true, schema: {type: string}}
            get:
              summary: 'The study''s series as vrprep inspect --json gives them, and its files not used (owner or admin; never a share link).'
              responses:
                default: {$ref: '#/components/responses/Error'}
                "200": {description: '{"id", "createdAt", "source", "modality", "dimensions", "spacing", "series": […], "rejected": [{"path", "reason"}]}'}
                "403": {description: 'Another owner''s study.'}
                "404": {description: 'No such study.'}
                "410": {description: 'Its files are gone.'}
            delete:
              summary: Remove the study and its files (owner or admin); a job not yet started on it fails saying so.
              responses:
                default: {$ref: '#/components/responses/Error'}
                "204": {description: Removed.}
                "403": {description: 'Another owner''s study.'}
                "404": {description: 'No such study.'}
          /v1/studies/{id}/jobs:
            parameters:
              - {name: id, in: path, required: true, schema: {type: string}}
              - {name: labels, in: query, required: false, schema: {type: string}, description: 'With a segmentation made elsewhere as the body: its file name (.nii, .nii.gz, .seg.nrrd, or .dcm for a DICOM SEG or RT Structure Set). The scene is made from it, nothing is segmented; what is wrong with it, the job says.'}
              - {name: labelNames, in: query, required: false, schema: {type: string}, description: 'With labels: names for label values, e.g. 1=liver,2=tumor.'}
              - {name: profile, in: query, required: false, schema: {type: string, enum: [desktop, headset, phone, print]}, description: 'What the scene is for: desktop (default; levels of detail), headset (whole scene at most 250,000 triangles), phone (500,000) or print (full surfaces, STL and OBJ, each closed). Unknown: 400.'}
            post:
              summary: 'A scene package of a kept study (owner or admin), with a recipe (the JSON of vrprep segment --recipe; an empty body: the default recipe; "video": true adds a turntable MP4 of the surfaces, renders/turntable.mp4), or from a segmentation made elsewhere (?labels=NAME, the file as the body).'
              requestBody:
                required: false
                content:
                  application/json: {schema: {type: object}}
                  application/octet-stream: {schema: {type: string, format: binary}}
              responses:
                default: {$ref: '#/components/responses/Error'}
                "202": {description: '{"jobId": "…"}'}
                "400": {description: 'A recipe that is not one (the key, the structure and the range named), bad label names, or an empty segmentation file.'}
                "413": {description: 'A segmentation larger than the upload limit.'}
                "415": {description: 'labels names no segmentation file (.nii, .nii.gz, .nrrd, .dcm).'}
                "403": {description: 'Another owner''s study.'}
                "404": {description: 'No such study.'}
                "410": {description: 'Its files are gone.'}
          /v1/studies/{id}/deidentified:
            parameters:
              - {name: id, in: path, required: true, schema: {type: string}}
              - {name: keepDatesShifted, in: query, required: false, schema: {type: integer, minimum: -36525, maximum: 36525, not: {enum: [0]}}, description: 'Keep dates, each moved by this many days (not 0): the Retain Longitudinal Temporal Information with Modified Dates Option (113107). Absent: dates removed or emptied as the profile says.'}
              - {name: deface, in: query, required: false, schema: {type: string, enum: ["auto", "on", "off"], default: "auto"}, description: 'auto: a head''s face removed from the pixels (the Clean Recognizable Visual Features Option, 113102); on: the same, and 422 when no face is found; off: the pixels as they are.'}
            post:
              summary: 'A de-identified DICOM copy of the study''s series (the largest), as vrprep deidentify writes it (PS3.15 Annex E basic profile: attributes removed, emptied or replaced, UIDs replaced as in the study''s packages, private attributes removed), in a zip (owner, admin; never through a share link). No body.'
              responses:
                default: {$ref: '#/components/responses/Error'}
                "200": {description: 'application/zip: IM0001.dcm… in slice order.', content: {application/zip: {schema: {type: string, format: binary}}}}
                "400": {description: 'A bad keepDatesShifted or deface.'}
                "403": {description: 'Another owner''s study.'}
                "404": {description: 'No such study.'}
                "410": {description: 'Its files are gone.'}
                "422": {description: 'No series could be loaded, no face found with deface=on, or the copy could not be written (the reason named).'}
          /v1/studies/{id}/slices/{orientation}/{index}:
            parameters:
              - {name: id, in: path, required: true, schema: {type: string}}
              - {name: orientation, in: path, required: true, schema: {type: string, enum: [axial, coronal, sagittal]}}
              - {name: index, in: path, required: true, schema: {type: integer}}
              - {name: window, in: query, required: false, schema: {type: string, pattern: '^[1-9][0-9]{0,5}(\\.[0-9]{1,6})?,-?[0-9]{1,5}(\\.[0-9]{1,6})?$'}, description: 'WIDTH,LEVEL (default: 400,40 for CT; the 1st–99th percentiles otherwise).'}
              - {name: preview, in: query, required: false, schema: {type: string}, description: 'A preview whose labels are drawn over the slice.'}
              - {name: format, in: query, required: false, schema: {type: string, enum: [png, webp], default: png}, description: 'png: lossless, every pixel the windowed value. webp: lossy (quality 95, each pixel within about 8 grey levels), a fifth to a half of the size, for scrolling.'}
            get:
              summary: 'A slice as an image in radiological display (the patient''s right on the image''s left in axial and coronal slices, anterior on the left in sagittal ones, superior at the top); X-Pixel-Spacing-MM gives its columns'' and rows'' spacing.'
              responses:
                default: {$ref: '#/components/responses/Error'}
                "200": {description: 'The image.', content: {image/png: {schema: {type: string, format: binary}}, image/webp: {schema: {type: string, format: binary}}}}
                "400": {description: 'A window that is not WIDTH,LEVEL, or a format other than png or webp.'}
                "403": {description: 'Another owner''s study.'}
                "404": {description: 'No such study, orientation, slice or preview.'}
          /v1/studies/{id}/slices/{orientation}/{index}/values:
            parameters:
              - {name: id, in: path, required: true, schema: {type: string}}
              - {name: orientation, in: path, required: true, schema: {type: string, enum: [axial, coronal, sagittal]}}
              - {name: index, in: path, required: true, schema: {type: integer}}
              - {name: rectangle, in: query, required: true, schema: {type: string, pattern: '^-?[0-9]{1,6},-?[0-9]{1,6},-?[0-9]{1,6},-?[0-9]{1,6}$'}, description: 'x0,y0,x1,y1 in the slice image''s pixels (corners included).'}
            get:
              summary: The values in a rectangle of a slice.
              responses:
                default: {$ref: '#/components/responses/Error'}
                "200": {description: '{"voxels", "mean", "sigma", "min", "max", "areaMM2"}'}
                "400": {description: 'A rectangle that is not four numbers.'}
                "403": {description: 'Another owner''s study.'}
                "404": {description: 'No such study, orientation or slice, or a rectangle outside the image.'}
          /v1/studies/{id}/voxel:
            parameters:
              - {name: id, in: path, required: true, schema: {type: string}}
              - {name: mm, in: query, required: true, schema: {type: string, pattern: '^-?[0-9]{1,5}(\\.[0-9]{1,6})?,-?[0-9]{1,5}(\\.[0-9]{1,6})?,-?[0-9]{1,5}(\\.[0-9]{1,6})?$'}, description: 'x,y,z in LPS millimetres.'}
            get:
              summary: The voxel nearest a point and its value.
              responses:
                default: {$ref: '#/components/responses/Error'}
                "200": {description: '{"index": [i, j, k], "value": V}'}
                "400": {description: 'mm is not three numbers.'}
                "403": {description: 'Another owner''s study.'}
                "404": {description: 'No such study, or the point lies outside the volume.'}
          /v1/studies/{id}/previews:
            parameters:
              - {name: id, in: path, required: true, schema: {type: string}}
            post:
              summary: 'A segmentation preview with a recipe (the JSON of vrprep segment --recipe), made at once in the study''s own process; kept a short while (the last four of a study).'
              requestBody:
                required: true
                content:
                  application/json: {schema: {type: object}}
              responses:
                default: {$ref: '#/components/responses/Error'}
                "200": {description: '{"previewId", "structures": [{"name", "label", "voxels", "volumeML", "figures", "seeds", "warnings": [{"code", "values", "text"}], …}], "warnings", "seconds"}: a structure''s warnings as codes with their values (for the reader''s language) and English text; the top-level warnings as text.'}
                "400": {description: 'A recipe that is not one (the key, the structure and the range named).'}
                "403": {description: 'Another owner''s study.'}
                "404": {description: 'No such study.'}
                "422": {description: 'The preset cannot segment what it was given (a seed in air or outside the volume, no boundary to find): the message says what to change.'}
          /v1/studies/{id}/previews/{preview}/labels.nii.gz:
            parameters:
              - {name: id, in: path, required: true, schema: {type: string}}
              - {name: preview, in: path, required: true, schema: {type: string}}
            get:
              summary: A preview's label map (NIfTI-1, gzip).
              responses:
                default: {$ref: '#/components/responses/Error'}
                "200": {description: 'The label map.', content: {application/gzip: {schema: {type: string, format: binary}}}}
                "403": {description: 'Another owner''s study.'}
                "404": {description: 'No such study or preview (previews are kept a short while).'}
          /v1/jobs:
            get:
              summary: 'The caller''s jobs, newest first (all, for an admin), each with its source (upload, or dicom with the calling AE, the peer and the instances received).'
              responses:
                default: {$ref: '#/components/responses/Error'}
                "200": {description: '{"jobs": [Job]}'}
          /v1/jobs/{id}:
            parameters:
              - {name: id, in: path, required: true, schema: {type: string}}
            get:
              summary: A job's state, stage, percent, error and package id (owner, admin).
              responses:
                default: {$ref: '#/components/responses/Error'}
                "200": {description: 'The job.', content: {application/json: {schema: {$ref: '#/components/schemas/Job'}}}}
                "404": {description: 'No such job of the caller.'}
            delete:
              summary: Cancel a queued or running job.
              responses:
                default: {$ref: '#/components/responses/Error'}
                "200": {description: 'Cancelled.'}
                "409": {description: 'The job has ended.'}
          /v1/jobs/{id}/dicom:
            parameters:
              - {name: id, in: path, required: true, schema: {type: string}}
              - {name: formats, in: query, required: false, schema: {type: string, default: 'seg,stl', pattern: '^(seg|rtstruct|stl|obj)(,(seg|rtstruct|stl|obj))*$'}, description: 'seg, rtstruct, stl, obj (comma-separated).'}
            get:
              summary: 'A finished job''s results as DICOM objects of its identified study, as vrprep export-dicom writes them, in a zip (owner, admin; never through a share link).'
              responses:
                default: {$ref: '#/components/responses/Error'}
                "200": {description: 'application/zip: seg.dcm, rtstruct.dcm, stl-NAME.dcm, obj-NAME.dcm, mtl-NAME.dcm as asked.'}
                "400": {description: 'An unknown format.'}
                "404": {description: 'No such job of the caller.'}
                "409": {description: 'The job has not finished with a package.'}
                "410": {description: 'Its study is no longer kept.'}
          /v1/jobs/{id}/return:
            parameters:
              - {name: id, in: path, required: true, schema: {type: string}}
            post:
              summary: 'Send a finished job''s results back again (a DICOM Segmentation and an Encapsulated STL per structure, by C-STORE), to where they went before or to its DICOM peer''s returnTo (owner, admin).'
              responses:
                default: {$ref: '#/components/responses/Error'}
                "202": {description: 'Scheduled: the job, with "returned".'}
                "409": {description: 'The job has not finished with a package, or has nowhere to go back to.'}
          /v1/dicom/peers:
            get:
              summary: The calling AEs stored in the database, and the receiver's own settings (admin).
              responses:
                default: {$ref: '#/components/responses/Error'}
                "200": {description: '{"peers": [{"aeTitle", "host", "completion", "recipe", "returnTo"}], "receiver": {"aeTitle", "port", "idleSeconds", "commandLine", "completion"}}'}
          /v1/dicom/peers/{ae}:
            parameters:
              - {name: ae, in: path, required: true, schema: {type: string, pattern: '^[!-\\[\\]-~][ -\\[\\]-~]{0,15}$'}, description: 'An AE title: 1…16 printable ASCII characters, no backslash.'}
            put:
              summary: >
                Allow a calling AE to send studies by C-STORE (admin): from one host (name or address) or any,
                with a recipe for its studies (default, bone and skin for CT), and completion "idle" (nothing
                received for the idle time) or "release" (the sending association released). Replaces the
                peer of the same title.
              requestBody:
                content:
                  application/json:
                    schema:
                      type: object
                      additionalProperties: false
                      properties:
                        host: {type: string, pattern: '^[A-Za-z0-9.:-]{1,253}$'}
                        completion: {type: string, enum: [idle, release]}
                        recipe: {type: object, description: 'A recipe as vrprep segment --recipe reads it (checked as it does: an unknown key or preset, or a value out of range, is a 400 naming it).'}
                        returnTo:
                          type: object
                          additionalProperties: false
                          required: [ae, host, port]
                          description: 'Where the results of its studies go back: a Storage SCP; when a job is done, its segmentation (DICOM SEG) and models (Encapsulated STL) are sent there by C-STORE, into the same study.'
                          properties:
                            ae: {type: string, pattern: '^[!-\\[\\]-~][ -\\[\\]-~]{0,15}$'}
                            host: {type: string, pattern: '^[A-Za-z0-9.:-]{1,253}$'}
                            port: {type: integer, minimum: 1, maximum: 65535}
                            tls: {type: boolean, description: 'The SCP takes DICOM TLS only: the service shows its --dicom-tls-cert and checks the SCP''s certificate against --dicom-tls-ca (needed).'}
                        stow: {type: string, description: 'A DICOMweb service (its base URL) the results go back to by STOW-RS, with or instead of returnTo.'}
              responses:
                default: {$ref: '#/components/responses/Error'}
                "201": {description: 'Added.'}
                "200": {description: 'Replaced.'}
                "400": {description: 'Not an AE title, an unknown key, a bad host, completion or recipe.'}
            delete:
              summary: Stop allowing a calling AE stored in the database (admin).
              responses:
                default: {$ref: '#/components/responses/Error'}
                "204": {description: 'Removed.'}
                "404": {description: 'No such peer in the database.'}
          /v1/packages:
            get:
              summary: The caller's packages (all, for an admin).
              responses:
                default: {$ref: '#/components/responses/Error'}
                "200": {description: '{"packages": ["…"]}'}
          /v1/packages/{id}:
            parameters:
              - {name: id, in: path, required: true, schema: {type: string}}
            get:
              summary: A package's manifest.
              responses:
                default: {$ref: '#/components/responses/Error'}
                "200": {description: 'manifest.json'}
                "403": {description: 'Someone else''s package, or a share link for another one.'}
            delete:
              summary: 'Take the package from the caller (an admin: from everyone); its files go with its last owner.'
              responses:
                default: {$ref: '#/components/responses/Error'}
                "200": {description: '{"id", "removed": true when nobody has it any more}'}
                "404": {description: 'Not one of the caller''s packages.'}
          /v1/packages/{id}/archive:
            parameters:
              - {name: id, in: path, required: true, schema: {type: string}}
              - {name: share, in: query, required: false, schema: {type: string}}
            get:
              summary: The package as one zip (ETag, If-None-Match, Range).
              responses:
                default: {$ref: '#/components/responses/Error'}
                "200": {description: 'The zip.'}
                "206": {description: 'A byte range of it.'}
                "304": {description: 'Not modified.'}
                "416": {description: 'A range outside the file.'}
          /v1/packages/{id}/files/{path}:
            parameters:
              - {name: id, in: path, required: true, schema: {type: string}}
              - {name: path, in: path, required: true, schema: {type: string}}
            get:
              summary: One file of the package (scene.glb and its levels of detail scene-headset.glb and scene-preview.glb, renders/…, meshes/…); glTF, JSON and STL gzipped (Content-Encoding) when the client accepts it and asks no Range.
              responses:
                default: {$ref: '#/components/responses/Error'}
                "200": {description: 'The file.'}
                "404": {description: 'Not a file of the package.'}
          /v1/packages/{id}/shares:
            parameters:
              - {name: id, in: path, required: true, schema: {type: string}}
            post:
              summary: A read-only share link to the package (owner, trainer with it, admin).
              requestBody:
                content:
                  application/json: {schema: {type: object, additionalProperties: false, properties: {expiresInHours: {type: number, nullable: true, minimum: 0.0167, maximum: 8760}}}}
              responses:
                default: {$ref: '#/components/responses/Error'}
                "201": {description: '{"id", "token", "url", "viewer", "expiresAt"}: the id names the link to list and revoke it; the token is shown once (only its hash is kept).'}
                "400": {description: 'An unknown key, a wrong type or expiresInHours out of range (named).'}
                "409": {description: 'The package keeps the study''s face (made with "deface": "off"): shared packages are defaced.'}
            get:
              summary: 'The package''s share links, for its owners and admins: {"shares": [{"id", "created", "expiresAt", "state": active | expired | revoked, "uses", "lastUsed", "session"}]}, newest first. uses counts openings of the viewer, the archive and the manifest through the link; never a token.'
              responses:
                default: {$ref: '#/components/responses/Error'}
                "200": {description: 'The links.'}
                "404": {description: 'Not one of the caller''s packages.'}
          /v1/packages/{id}/shares/{shareId}:
            parameters:
              - {name: id, in: path, required: true, schema: {type: string}}
              - {name: shareId, in: path, required: true, schema: {type: string}}
            delete:
              summary: Revoke a share link at once (its owner or an admin); the archive, files, manifest and viewer refuse it from the next request on.
              responses:
                default: {$ref: '#/components/responses/Error'}
                "200": {description: '{"id", "state": "revoked"}'}
                "404": {description: 'Not one of the caller''s packages, or no such link of it.'}
          /v1/packages/{id}/sessions:
            parameters:
              - {name: id, in: path, required: true, schema: {type: string}}
            post:
              summary: 'A live case conference on the package (its owner or an admin; a host or trainer whose share link opens it, as "share"). Kept in the service''s memory, its events written to the records as it goes; it ends when its time is up, when its creator ends it, or when the service stops (its clients told why: {"type": "ended", "code": host | expired | stopping}); a restart ends those a crash left open.'
              requestBody:
                content:
                  application/json: {schema: {type: object, additionalProperties: false, properties: {title: {type: string, nullable: true, maxLength: 200}, share: {type: string, nullable: true}, expiresInHours: {type: number, nullable: true, minimum: 0.0167, maximum: 48}}}}
              responses:
                default: {$ref: '#/components/responses/Error'}
                "201": {description: '{"sessionId", "title", "package", "joinUrl", "webSocket", "hostKey", "expiresAt"}: joinUrl and webSocket carry a share link for this package that ends with the session.'}
                "403": {description: 'Not the package''s owner, and no share link that opens it.'}
                "404": {description: 'No such package.'}
          /session/{id}:
            parameters:
              - {name: id, in: path, required: true, schema: {type: string}}
              - {name: share, in: query, required: true, schema: {type: string}}
              - {name: name, in: query, required: false, schema: {type: string, maxLength: 64}}
              - {name: hostKey, in: query, required: false, schema: {type: string}}
            get:
              summary: 'The session''s page (HTML; ?lang=en|ja|es|pt, else Accept-Language): the viewer joined to the live session; without a name, a form asks for it.'
              responses:
                default: {$ref: '#/components/responses/Error'}
                "200": {description: 'The page.'}
                "401": {description: 'No share link.'}
                "403": {description: 'A share link that does not open the session''s package, or a wrong host key.'}
                "404": {description: 'No such session.'}
                "410": {description: 'The session has ended (the answer says why).'}
          /v1/sessions/{id}:
            parameters:
              - {name: id, in: path, required: true, schema: {type: string}}
            delete:
              summary: 'Ends the session (its creator or an admin): every client is told ({"type": "ended"}) and closed; its share link is revoked.'
              responses:
                default: {$ref: '#/components/responses/Error'}
                "204": {description: Ended.}
                "403": {description: 'Someone else''s session.'}
                "404": {description: 'No such session.'}
                "410": {description: 'The session has ended already.'}
          /v1/sessions/{id}/recording:
            parameters:
              - {name: id, in: path, required: true, schema: {type: string}}
              - {name: share, in: query, required: false, schema: {type: string}}
            get:
              summary: 'The session''s accepted events as JSON lines ({"t", "event": "join" | "leave" | "message", …}; head poses are not kept), for replay: for its creator or an admin, or with the share link of a collection that holds it. It outlives the session and restarts.'
              responses:
                default: {$ref: '#/components/responses/Error'}
                "200": {description: 'JSON lines (application/x-ndjson).'}
                "403": {description: 'Someone else''s session, or a share link of no collection that holds it.'}
                "404": {description: 'No such session.'}
          /v1/sessions/{id}/ws:
            parameters:
              - {name: id, in: path, required: true, schema: {type: string}}
              - {name: share, in: query, required: true, schema: {type: string}}
              - {name: name, in: query, required: true, schema: {type: string, maxLength: 64}}
              - {name: hostKey, in: query, required: false, schema: {type: string}}
            get:
              summary: 'The live channel: a WebSocket of JSON messages (snapshot on connect; camera, structure and clip from the presenter; pointer, annotation, hand and avatar (a headset''s head pose) from anyone; presenter from the host). A refused message gets {"type": "error", "code": presenterOnly | hostOnly | rate | limit | invalid, "message"}. A request that is not upgraded is answered with why.'
              responses:
                default: {$ref: '#/components/responses/Error'}
                "101": {description: 'Switching to the WebSocket.'}
                "400": {description: 'No name, or one longer than 64 characters.'}
                "401": {description: 'No share link.'}
                "403": {description: 'A share link that does not open this session''s package, or a wrong host key.'}
                "404": {description: 'No such session.'}
                "410": {description: 'The session has ended (the answer says why: its host, its time, a restart).'}
                "426": {description: 'Admitted, but not a WebSocket upgrade.'}
          /v1/collections:
            get:
              summary: The trainer's collections.
              responses:
                default: {$ref: '#/components/responses/Error'}
                "200": {description: '{"collections": ["…"]}'}
            post:
              summary: A course's collection of packages with notes (trainer, admin).
              requestBody:
                required: true
                content:
                  application/json: {schema: {type: object, additionalProperties: false, required: [name, items], properties: {name: {type: string, minLength: 1, maxLength: 200, pattern: '[^ ]'}, expiresInHours: {type: number, nullable: true, minimum: 0.0167, maximum: 8760}, items: {type: array, minItems: 1, maxItems: 500, items: {type: object, additionalProperties: false, required: [package], properties: {package: {type: string}, share: {type: string, nullable: true}, notes: {type: string, nullable: true, maxLength: 10000}, recording: {type: string, nullable: true, description: 'A session (its id) the trainer held on this package: its recording goes with the item.'}}}}}}}
              responses:
                default: {$ref: '#/components/responses/Error'}
                "201": {description: 'The collection with its one share link (token, url; expiresInHours, 720 by default), each item with a link to its package (and to its recording).'}
                "400": {description: 'Unknown keys or values out of range, or a recording of a session on another package.'}
                "403": {description: 'A package the trainer cannot read, or a recording of someone else''s session.'}
          /view/{id}:
            parameters:
              - {name: id, in: path, required: true, schema: {type: string}}
              - {name: share, in: query, required: false, schema: {type: string}}
            get:
              summary: 'The web viewer: the scene in three.js, structure toggles and opacity, the stereo renders, Enter VR (WebXR); the preview level first, replaced by the full scene (?level=headset: by the headset level).'
              responses:
                default: {$ref: '#/components/responses/Error'}
                "200": {description: 'An HTML page.'}
          /static/three/{path}:
            parameters:
              - {name: path, in: path, required: true, schema: {type: string}}
            get:
              summary: 'The viewer''s three.js files (from Debian''s libjs-three).'
              security: []
              responses:
                default: {$ref: '#/components/responses/Error'}
                "200": {description: 'JavaScript.'}
          /v1/audit:
            get:
              summary: 'The audit trail (admin): every access to a study (its slices, previews, de-identified copies, DICOM results and returns), every package download, share link use, creation and revocation, every failed sign-in, and every reading of the trail, oldest first: who (token id and name, or share link id; role; address), what, when and the answer''s status, with DICOM''s event codes (PS3.15 A.5). Append-only.'
              parameters:
                - {name: since, in: query, required: false, schema: {type: string, format: date-time}}
                - {name: study, in: query, required: false, schema: {type: string}}
                - {name: package, in: query, required: false, schema: {type: string}}
                - {name: after, in: query, required: false, description: 'The last seq read (paging).', schema: {type: integer, minimum: 0}}
                - {name: limit, in: query, required: false, schema: {type: integer, minimum: 1, maximum: 10000, default: 1000}}
                - {name: format, in: query, required: false, description: 'json ({"events", "next"}), jsonl (one event a line) or dicom (one DICOM audit message, XML, a line).', schema: {type: string, enum: [json, jsonl, dicom]}}
              responses:
                default: {$ref: '#/components/responses/Error'}
                "200": {description: 'The events.'}
                "400": {description: 'An unknown parameter or a bad value (named).'}
                "403": {description: 'Not an admin.'}
          /v1/collections/{id}:
            parameters:
              - {name: id, in: path, required: true, schema: {type: string}}
              - {name: share, in: query, required: false, schema: {type: string}}
            get:
              summary: 'One collection: for its owner, its items; with its share link, each item with a link to its package. Reading writes nothing.'
              responses:
                default: {$ref: '#/components/responses/Error'}
                "200": {description: 'The collection.'}
                "403": {description: 'A share link for another collection.'}
                "410": {description: 'The collection''s link expired or was revoked.'}

        """

    /// (method, path) pairs of the description, methods in upper case.
    public static var operations: Set<String> {
        var out = Set<String>(), path: String?
        var inPaths = false
        for line in yaml.split(separator: "\n", omittingEmptySubsequences: false) {
            if line == "paths:" { inPaths = true; continue }
            guard inPaths else { continue }
            if line.hasPrefix("  /"), line.hasSuffix(":") {
                path = String(line.dropFirst(2).dropLast())
            } else if let path, line.hasPrefix("    "), !line.hasPrefix("     "),
                      let method = ["get", "post", "put", "delete", "patch"].first(where: { line == "    \($0):" }) {
                out.insert("\(method.uppercased()) \(path)")
            }
        }
        return out
    }
}
