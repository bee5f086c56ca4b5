import Foundation
import Pipeline

/// The clinician's workstation: one page (`GET /app`) over the API. Sign in with a token (kept in
/// the tab's session storage, never in a URL); the caller's studies, jobs (followed live) and
/// packages; upload by drag and drop; a study in three linked views (axial, coronal, sagittal)
/// with scrolling, window presets, a cross-hair and the value and LPS position under the pointer;
/// seeds dropped by a click, a preview grown at once and drawn over the slices; then the scene
/// built and opened in the viewer. Every word comes from the reader's message catalogue.
enum Workstation {
    static func page(language: Language) -> String {
        let text = language.messages, catalogue = language.catalogueScript
        func t(_ key: String) -> String { Viewer.escape(text[key] ?? key) }
        // The presets as a surgeon picks them: the lesion first, then what a click grows, then the rest.
        let presets: [Preset] = [.tumor, .vessels, .bone, .skin]
        let options = presets.map { "<option value=\"\($0.rawValue)\">\(t("structure." + $0.rawValue))</option>" }.joined()
        let seeded = "[" + Preset.allCases.filter(\.needsSeeds).map { Viewer.jsString($0.rawValue) }.joined(separator: ", ") + "]"
        return """
            \(language.pageStart(title: text["app.title"]!))
            <style>
              body { margin: 0; font-family: sans-serif; background: #15181c; color: #e8e8e8; }
              header { padding: 8px 12px; background: #20252b; display: flex; gap: 12px; align-items: center; }
              header h1 { font-size: 18px; margin: 0; flex: 1; }
              section { padding: 8px 12px; }
              button, select, input { font-size: 14px; }
              table { border-collapse: collapse; }
              td, th { padding: 2px 8px; text-align: left; border-bottom: 1px solid #333; }
              #drop { border: 2px dashed #567; padding: 14px; text-align: center; margin: 6px 0; }
              #drop.over { background: #234; }
              #views { display: grid; grid-template-columns: repeat(3, 1fr); gap: 6px; }
              .view { position: relative; background: #000; }
              .view canvas { width: 100%; display: block; cursor: crosshair; }
              .view .caption { position: absolute; top: 4px; left: 6px; font-size: 12px; color: #9cf; }
              #tools { display: flex; flex-wrap: wrap; gap: 12px; align-items: center; margin: 8px 0; }
              #readout, #result, #message, #measure { font-family: monospace; white-space: pre-wrap; }
              #message { color: #f99; padding: 4px 12px; }
              .hidden { display: none; }
              a { color: #8cf; }
            </style>
            </head>
            <body>
            <header><h1>\(t("app.title"))</h1><span id="who"></span><button id="signout" class="hidden">\(t("app.signOut"))</button></header>
            <section id="signin">
              <form id="signinForm">
                <label>\(t("app.token")) <input id="token" type="password" size="48" autocomplete="off"></label>
                <button id="signinButton" type="submit">\(t("app.signIn"))</button>
              </form>
            </section>
            <section id="home" class="hidden">
              <div id="drop">\(t("app.drop")) <input id="file" type="file" accept=".zip,application/zip">
                \(t("app.folder")) <input id="folder" type="file" webkitdirectory multiple>
                <progress id="uploading" class="hidden" max="1" value="0"></progress></div>
              <h2>\(t("app.studies"))</h2><table id="studies"></table>
              <h2>\(t("app.jobs"))</h2><table id="jobs"></table>
              <h2>\(t("app.packages"))</h2><table id="packages"></table>
            </section>
            <section id="study" class="hidden">
              <div id="tools">
                <button id="back">\(t("app.back"))</button>
                <label>\(t("app.window")) <select id="window">
                  <option value="400,40">\(t("app.window.soft"))</option><option value="1800,400">\(t("app.window.bone"))</option>
                  <option value="80,40">\(t("app.window.brain"))</option><option value="1500,-600">\(t("app.window.lung"))</option>
                  <option value="700,200">\(t("app.window.angio"))</option><option value="">\(t("app.window.auto"))</option></select></label>
                <label>\(t("app.structure")) <select id="structure">\(options)</select></label>
                <label>\(t("app.tool")) <select id="tool">
                  <option value="point">\(t("app.tool.point"))</option><option value="window">\(t("app.tool.window"))</option>
                  <option value="pan">\(t("app.tool.pan"))</option><option value="zoom">\(t("app.tool.zoom"))</option>
                  <option value="distance">\(t("app.tool.distance"))</option><option value="values">\(t("app.tool.values"))</option></select></label>
                <button id="resetViews">\(t("app.resetViews"))</button>
                <label><input id="seedMode" type="checkbox" checked> \(t("app.seedMode"))</label>
                <label id="radiusBox">\(t("app.radius")) <input id="radius" type="range" min="0" max="40" step="0.5" value="0"> <span id="radiusValue"></span></label>
                <span id="vesselBox" class="hidden">
                  <label>\(t("app.windowLower")) <input id="vesselLower" type="range" min="0" max="1000" step="10" value="0"> <span id="vesselLowerValue"></span></label>
                  <label>\(t("app.windowUpper")) <input id="vesselUpper" type="range" min="0" max="3000" step="10" value="0"> <span id="vesselUpperValue"></span></label>
                  <label>\(t("app.maxVolume")) <input id="vesselLimit" type="range" min="5" max="2000" step="5" value="500"> <span id="vesselLimitValue"></span></label>
                </span>
                <button id="clearSeeds">\(t("app.clearSeeds"))</button>
                <button id="grow">\(t("app.grow"))</button>
                <button id="build">\(t("app.build"))</button>
              </div>
              <div id="views"></div>
              <div id="readout"></div>
              <div id="measure"></div>
              <div id="result"></div>
            </section>
            <div id="message"></div>
            <script>
            (function () {
              "use strict";
              const text = \(catalogue);
              // Presets grown from seeds, and the one that takes an expected radius.
              const seeded = \(seeded), radiusPreset = \(Viewer.jsString(Preset.tumor.rawValue)), windowPreset = \(Viewer.jsString(Preset.vessels.rawValue));
              const lang = document.documentElement.lang;
              const number = (v, digits) => new Intl.NumberFormat(lang, { maximumFractionDigits: digits }).format(v);
              const $ = id => document.getElementById(id);
              const state = { token: sessionStorage.getItem("vrprep-token"), study: null, geometry: null, voxel: null,
                              seeds: [], preview: null, images: {}, window: "400,40" };
              function say(message) { $("message").textContent = message || ""; }
              async function api(method, path, body, type) {
                const headers = { "Authorization": "Bearer " + state.token };
                if (type) headers["Content-Type"] = type;
                const response = await fetch(path, { method: method, headers: headers, body: body });
                if (!response.ok) {
                  let detail = "";
                  try {
                    const j = await response.json();
                    // A refusal with a code (a seed in air, outside the window): said in the reader's language.
                    if (j.error && j.error.code) detail = notice({ code: j.error.code, values: j.error.values || {}, text: j.error.message });
                    else detail = j.error && j.error.message ? j.error.message : JSON.stringify(j);
                  } catch (e) { detail = response.statusText; }
                  throw new Error(detail);
                }
                return response;
              }
              // Sign-in: the token stays in this tab's session storage.
              $("signinForm").onsubmit = async event => {
                event.preventDefault();
                state.token = $("token").value.trim();
                try { await api("GET", "/v1/studies"); sessionStorage.setItem("vrprep-token", state.token); showHome(); }
                catch (e) { say(text["app.badToken"] + ": " + e.message); state.token = null; }
              };
              $("signout").onclick = () => { sessionStorage.removeItem("vrprep-token"); location.reload(); };
              // Home: studies, jobs (followed), packages; upload by drop or file input.
              async function showHome() {
                $("signin").classList.add("hidden"); $("study").classList.add("hidden"); $("home").classList.remove("hidden");
                $("signout").classList.remove("hidden"); say(""); state.study = null;
                await refresh();
              }
              async function refresh() {
                const studies = (await (await api("GET", "/v1/studies")).json()).studies;
                $("studies").innerHTML = "";
                for (const s of studies) {
                  const row = $("studies").insertRow();
                  row.insertCell().textContent = new Date(s.createdAt).toLocaleString(lang);
                  row.insertCell().textContent = (s.modality || "") + " " + (s.dimensions ? s.dimensions.join("×") : "");
                  const open = document.createElement("button"); open.textContent = text["app.open"]; open.className = "openStudy";
                  open.onclick = () => openStudy(s.id); row.insertCell().appendChild(open);
                }
                const jobs = (await (await api("GET", "/v1/jobs")).json()).jobs;
                $("jobs").innerHTML = "";
                for (const j of jobs) {
                  const row = $("jobs").insertRow();
                  row.insertCell().textContent = text["app.state." + j.state] || j.state;
                  row.insertCell().textContent = number(j.percent, 0) + " %";
                  row.insertCell().textContent = j.error || (j.rejected && j.rejected.length ? j.rejected.length + " " + text["app.filesNotUsed"] : "");
                }
                const packages = (await (await api("GET", "/v1/packages")).json()).packages;
                $("packages").innerHTML = "";
                for (const p of packages) {
                  const row = $("packages").insertRow();
                  const link = document.createElement("button"); link.textContent = text["app.view"] + " " + p.slice(0, 12);
                  link.onclick = () => openScene(p); row.insertCell().appendChild(link);
                }
              }
              setInterval(() => { if (state.token && !state.study && !$("home").classList.contains("hidden")) refresh().catch(() => {}); }, 2000);
              // One .zip as it is; several files (a folder) as a form, each with its path in the folder.
              function upload(files) {
                const request = new XMLHttpRequest();
                request.open("POST", "/v1/studies?process=false");
                request.setRequestHeader("Authorization", "Bearer " + state.token);
                let body;
                if (files.length === 1 && files[0].name.toLowerCase().endsWith(".zip")) { request.setRequestHeader("Content-Type", "application/zip"); body = files[0]; }
                else { body = new FormData(); for (const f of files) body.append("files", f, f.webkitRelativePath || f.name); }
                $("uploading").classList.remove("hidden");
                request.upload.onprogress = e => { if (e.lengthComputable) $("uploading").value = e.loaded / e.total; };
                request.onload = () => {
                  $("uploading").classList.add("hidden");
                  if (request.status >= 300) { let m = request.responseText; try { m = JSON.parse(m).error.message; } catch (e) {} say(text["app.uploadFailed"] + ": " + m); return; }
                  say(""); refresh();
                };
                request.onerror = () => say(text["app.uploadFailed"]);
                request.send(body);
              }
              $("file").onchange = () => { if ($("file").files.length) upload(Array.from($("file").files)); };
              $("folder").onchange = () => { if ($("folder").files.length) upload(Array.from($("folder").files)); };
              $("drop").ondragover = e => { e.preventDefault(); $("drop").classList.add("over"); };
              $("drop").ondragleave = () => $("drop").classList.remove("over");
              $("drop").ondrop = e => { e.preventDefault(); $("drop").classList.remove("over"); if (e.dataTransfer.files.length) upload(Array.from(e.dataTransfer.files)); };
              // A study: three views of its largest series, linked by the cross-hair.
              const planes = ["axial", "coronal", "sagittal"];
              function planeOf(name, g) {
                const d = g.direction;
                const axis = p => { let best = 0; for (let a = 1; a < 3; a++) if (Math.abs(d[p * 3 + a]) > Math.abs(d[p * 3 + best])) best = a; return { axis: best, positive: d[p * 3 + best] >= 0 }; };
                const x = axis(0), y = axis(1), z = axis(2);
                if (name === "axial") return { col: x.axis, row: y.axis, slice: z.axis, flipC: !x.positive, flipR: !y.positive };
                if (name === "coronal") return { col: x.axis, row: z.axis, slice: y.axis, flipC: !x.positive, flipR: z.positive };
                return { col: y.axis, row: z.axis, slice: x.axis, flipC: !y.positive, flipR: z.positive };
              }
              function millimetres(v, g) {
                const out = [0, 0, 0];
                for (let p = 0; p < 3; p++) { out[p] = g.origin[p]; for (let a = 0; a < 3; a++) out[p] += g.direction[p * 3 + a] * v[a] * g.spacing[a]; }
                return out;
              }
              async function openStudy(id) {
                say(text["app.opening"]);
                const detail = await (await api("GET", "/v1/studies/" + id)).json();
                const series = detail.series.slice().sort((a, b) => b.dimensions.reduce((x, y) => x * y) - a.dimensions.reduce((x, y) => x * y))[0];
                state.study = id; state.geometry = series; state.seeds = []; state.preview = null; state.views = {};
                for (const name of planes) state.views[name] = { scale: 1, dx: 0, dy: 0, image: null, marks: [] };
                state.voxel = series.dimensions.map(n => Math.floor(n / 2));
                if (series.modality !== "CT") { state.window = ""; $("window").value = ""; }
                $("home").classList.add("hidden"); $("study").classList.remove("hidden"); $("result").textContent = "";
                $("views").innerHTML = "";
                for (const name of planes) {
                  const view = document.createElement("div"); view.className = "view";
                  const canvas = document.createElement("canvas"); canvas.id = "view-" + name;
                  const caption = document.createElement("div"); caption.className = "caption"; caption.id = "caption-" + name;
                  view.appendChild(canvas); view.appendChild(caption); $("views").appendChild(view);
                  canvas.onwheel = e => { e.preventDefault(); scroll(name, e.deltaY > 0 ? 1 : -1); };
                  canvas.onmousedown = e => press(name, e);
                  canvas.onmousemove = e => { readout(name, e); drag(name, e); };
                  canvas.onmouseup = e => release(name, e);
                }
                say(""); await drawAll();
              }
              // While the wheel turns, slices come as lossy WebP (a fifth to a half of the PNG); once the
              // view has rested for a moment, the exact (PNG) image of the slice replaces it.
              function scroll(name, step) {
                const p = planeOf(name, state.geometry), n = state.geometry.dimensions[p.slice];
                state.voxel[p.slice] = Math.min(n - 1, Math.max(0, state.voxel[p.slice] + step));
                const view = state.views[name];
                draw(name, "webp");
                clearTimeout(view.rest);
                view.rest = setTimeout(() => draw(name), 300);
              }
              // Canvas points (the image's resolution) and image pixels, through the view's zoom and pan.
              function canvasPoint(name, e) {
                const canvas = $("view-" + name), box = canvas.getBoundingClientRect();
                return [(e.clientX - box.left) / box.width * canvas.width, (e.clientY - box.top) / box.height * canvas.height];
              }
              function pixelOf(name, e) {
                const v = state.views[name], c = canvasPoint(name, e);
                return [Math.floor((c[0] - v.dx) / v.scale), Math.floor((c[1] - v.dy) / v.scale)];
              }
              function voxelAt(name, pixel) {
                const g = state.geometry, p = planeOf(name, g), v = state.voxel.slice(), n = g.dimensions;
                v[p.col] = p.flipC ? n[p.col] - 1 - pixel[0] : pixel[0];
                v[p.row] = p.flipR ? n[p.row] - 1 - pixel[1] : pixel[1];
                return v;
              }
              function readout(name, e) {
                const v = voxelAt(name, pixelOf(name, e)), mm = millimetres(v, state.geometry);
                $("readout").textContent = text["app.voxel"] + " " + v.join(", ") + "   LPS " + mm.map(x => number(x, 1)).join(", ") + " mm";
              }
              // The tools: a point (cross-hair, seeds), window and level, pan and zoom by dragging, a
              // distance (two points), the values in a rectangle.
              let pressed = null;
              function press(name, e) { pressed = { name: name, start: canvasPoint(name, e), last: canvasPoint(name, e), pixel: pixelOf(name, e), moved: false }; }
              function drag(name, e) {
                if (!pressed || pressed.name !== name) return;
                const c = canvasPoint(name, e), v = state.views[name], tool = $("tool").value;
                const dx = c[0] - pressed.last[0], dy = c[1] - pressed.last[1];
                pressed.last = c; if (Math.abs(c[0] - pressed.start[0]) + Math.abs(c[1] - pressed.start[1]) > 3) pressed.moved = true;
                if (tool === "pan") { v.dx += dx; v.dy += dy; render(name); }
                else if (tool === "zoom") {
                  const factor = Math.exp(-dy / 100), canvas = $("view-" + name), cx = canvas.width / 2, cy = canvas.height / 2;
                  v.dx = cx - (cx - v.dx) * factor; v.dy = cy - (cy - v.dy) * factor; v.scale *= factor; render(name);
                } else if (tool === "window") {
                  const [width, level] = (state.window || "400,40").split(",").map(Number);
                  state.window = Math.max(1, Math.round(width + dx * 4)) + "," + Math.round(level + dy * 2);
                  $("readout").textContent = text["app.window"] + " " + state.window;
                } else if (tool === "values") { render(name, [pressed.pixel, pixelOf(name, e)]); }
              }
              async function release(name, e) {
                if (!pressed || pressed.name !== name) return;
                const was = pressed, tool = $("tool").value; pressed = null;
                if (tool === "window") { $("window").value = ""; await drawAll(); return; }
                if (tool === "values" && was.moved) { await measureValues(name, was.pixel, pixelOf(name, e)); return; }
                if (!was.moved && tool === "point") await click(name, e);
                if (!was.moved && tool === "distance") measureDistance(name, e);
              }
              async function click(name, e) {
                const v = voxelAt(name, pixelOf(name, e));
                state.voxel = v;
                if ($("seedMode").checked && seeded.includes($("structure").value)) {
                  // A click on one of this structure's seeds (where the view draws it) removes it.
                  const p = planeOf(name, state.geometry), n = state.geometry.dimensions, pixel = pixelOf(name, e);
                  const reach = Math.max(2, $("view-" + name).width / 128) + 1;
                  const hit = state.seeds.findIndex(seed => {
                    if (seed.structure !== $("structure").value || seed.voxel[p.slice] !== v[p.slice]) return false;
                    const sx = p.flipC ? n[p.col] - 1 - seed.voxel[p.col] : seed.voxel[p.col], sy = p.flipR ? n[p.row] - 1 - seed.voxel[p.row] : seed.voxel[p.row];
                    return Math.hypot(sx - pixel[0], sy - pixel[1]) <= reach;
                  });
                  if (hit >= 0) {
                    const [removed] = state.seeds.splice(hit, 1);
                    document.body.dataset.seeds = String(state.seeds.length);
                    $("readout").textContent = text["app.seedRemoved"] + " " + removed.mm.map(x => number(x, 1)).join(", ") + " mm";
                    await drawAll();
                    return;
                  }
                  const mm = millimetres(v, state.geometry);
                  state.seeds.push({ structure: $("structure").value, voxel: v, mm: mm });
                  document.body.dataset.seeds = String(state.seeds.length);
                  try {
                    const probe = await (await api("GET", "/v1/studies/" + state.study + "/voxel?mm=" + mm.join(","))).json();
                    $("readout").textContent = text["app.seedAdded"] + " " + mm.map(x => number(x, 1)).join(", ") + " mm, " + text["app.value"] + " " + number(probe.value, 0);
                  } catch (err) { say(err.message); }
                }
                await drawAll();
              }
              function measureDistance(name, e) {
                const view = state.views[name], pixel = pixelOf(name, e), index = state.voxel[planeOf(name, state.geometry).slice];
                view.marks = view.marks.filter(m => m.kind === "point" && m.index === index).slice(-1);
                view.marks.push({ kind: "point", pixel: pixel, index: index });
                if (view.marks.length === 2) {
                  const [a, b] = view.marks.map(m => millimetres(voxelAt(name, m.pixel), state.geometry));
                  const d = Math.hypot(a[0] - b[0], a[1] - b[1], a[2] - b[2]);
                  $("measure").textContent = text["app.distance"] + ": " + number(d, 1) + " mm";
                  document.body.dataset.distance = d.toFixed(3);
                }
                render(name);
              }
              async function measureValues(name, a, b) {
                const index = state.voxel[planeOf(name, state.geometry).slice];
                try {
                  const r = await (await api("GET", "/v1/studies/" + state.study + "/slices/" + name + "/" + index + "/values?rectangle=" + [a[0], a[1], b[0], b[1]].join(","))).json();
                  $("measure").textContent = text["app.mean"] + " " + number(r.mean, 1) + " ± " + number(r.sigma, 1) + ", " + text["app.min"] + " " + number(r.min, 0) + ", " +
                    text["app.max"] + " " + number(r.max, 0) + " (" + number(r.voxels, 0) + " " + text["app.voxels"] + ", " + number(r.areaMM2, 1) + " mm²)";
                  document.body.dataset.regionMean = String(r.mean);
                  document.body.dataset.rectangle = [a[0], a[1], b[0], b[1]].join(",");
                } catch (err) { say(err.message); }
                state.views[name].marks = [{ kind: "rectangle", a: a, b: b, index: index }];
                render(name);
              }
              $("resetViews").onclick = () => { for (const name of planes) { const v = state.views[name]; v.scale = 1; v.dx = 0; v.dy = 0; v.marks = []; render(name); } };
              $("clearSeeds").onclick = () => { state.seeds = []; document.body.dataset.seeds = "0"; drawAll(); };
              $("window").onchange = () => { state.window = $("window").value; drawAll(); };
              $("radius").oninput = () => { $("radiusValue").textContent = Number($("radius").value) > 0 ? number(Number($("radius").value), 1) + " mm" : text["app.auto"]; };
              $("radius").oninput();
              // The vessel window's bounds (at 0: taken from the blood around the seeds) and its volume limit.
              for (const id of ["vesselLower", "vesselUpper"]) {
                $(id).oninput = () => { $(id + "Value").textContent = Number($(id).value) > 0 ? number(Number($(id).value), 0) + " HU" : text["app.auto"]; };
                $(id).oninput();
              }
              $("vesselLimit").oninput = () => { $("vesselLimitValue").textContent = number(Number($("vesselLimit").value), 0) + " mL"; };
              $("vesselLimit").oninput();
              $("structure").onchange = () => {
                $("radiusBox").classList.toggle("hidden", $("structure").value !== radiusPreset);
                $("vesselBox").classList.toggle("hidden", $("structure").value !== windowPreset);
              };
              $("structure").onchange();
              // The three views at once (one round trip on a far link, not three).
              async function drawAll() { await Promise.all(planes.map(name => draw(name))); }
              // A view's image: exact (PNG) unless asked otherwise. An answer that comes after a newer
              // request's (scrolling fast) is dropped, so the view never steps back to an older slice.
              async function draw(name, format) {
                const g = state.geometry, p = planeOf(name, g), index = state.voxel[p.slice], view = state.views[name];
                let path = "/v1/studies/" + state.study + "/slices/" + name + "/" + index + "?";
                if (state.window) path += "window=" + state.window + "&";
                if (state.preview) path += "preview=" + state.preview + "&";
                if (format) path += "format=" + format;
                const asked = view.asked = (view.asked || 0) + 1;
                const blob = await (await api("GET", path)).blob();
                const image = await createImageBitmap(blob);
                if (asked < (view.shown || 0)) return;
                view.shown = asked; view.image = image; view.exact = !format;
                document.body.dataset.exactViews = String(planes.filter(n => state.views[n] && state.views[n].exact).length);
                render(name);
              }
              // Paints a view from its last image: zoom and pan, the cross-hair, the seeds, the marks.
              function render(name, rectangle) {
                const g = state.geometry, p = planeOf(name, g), index = state.voxel[p.slice], view = state.views[name], image = view.image;
                if (!image) return;
                const canvas = $("view-" + name);
                if (canvas.width !== image.width || canvas.height !== image.height) { canvas.width = image.width; canvas.height = image.height; }
                // True proportions: the rows' spacing over the columns'.
                canvas.style.aspectRatio = (image.width * g.spacing[p.col]) + " / " + (image.height * g.spacing[p.row]);
                const context = canvas.getContext("2d");
                context.setTransform(1, 0, 0, 1, 0, 0); context.fillStyle = "#000"; context.fillRect(0, 0, canvas.width, canvas.height);
                context.setTransform(view.scale, 0, 0, view.scale, view.dx, view.dy);
                context.imageSmoothingEnabled = false;
                context.drawImage(image, 0, 0);
                const n = g.dimensions, v = state.voxel;
                const px = p.flipC ? n[p.col] - 1 - v[p.col] : v[p.col], py = p.flipR ? n[p.row] - 1 - v[p.row] : v[p.row];
                context.strokeStyle = "rgba(80, 200, 255, 0.6)"; context.lineWidth = 1 / view.scale;
                context.beginPath(); context.moveTo(px + 0.5, 0); context.lineTo(px + 0.5, image.height); context.moveTo(0, py + 0.5); context.lineTo(image.width, py + 0.5); context.stroke();
                for (const seed of state.seeds) {
                  if (seed.voxel[p.slice] !== index) continue;
                  const sx = p.flipC ? n[p.col] - 1 - seed.voxel[p.col] : seed.voxel[p.col], sy = p.flipR ? n[p.row] - 1 - seed.voxel[p.row] : seed.voxel[p.row];
                  context.fillStyle = "#ffdd33"; context.beginPath(); context.arc(sx + 0.5, sy + 0.5, Math.max(2, image.width / 128) / view.scale, 0, 2 * Math.PI); context.fill();
                }
                context.strokeStyle = "#7f7"; context.fillStyle = "#7f7";
                const marks = view.marks.filter(m => m.index === index);
                for (const m of marks.filter(m => m.kind === "point")) { context.beginPath(); context.arc(m.pixel[0] + 0.5, m.pixel[1] + 0.5, 2 / view.scale, 0, 2 * Math.PI); context.fill(); }
                const points = marks.filter(m => m.kind === "point");
                if (points.length === 2) { context.beginPath(); context.moveTo(points[0].pixel[0] + 0.5, points[0].pixel[1] + 0.5); context.lineTo(points[1].pixel[0] + 0.5, points[1].pixel[1] + 0.5); context.stroke(); }
                for (const r of (rectangle ? [{ a: rectangle[0], b: rectangle[1] }] : marks.filter(m => m.kind === "rectangle"))) {
                  context.strokeRect(Math.min(r.a[0], r.b[0]), Math.min(r.a[1], r.b[1]), Math.abs(r.b[0] - r.a[0]) + 1, Math.abs(r.b[1] - r.a[1]) + 1);
                }
                $("caption-" + name).textContent = text["app.plane." + name] + " " + (index + 1) + " / " + n[p.slice];
              }
              // A preset's note in the reader's language: its code's template with its values (English: its own text).
              function notice(w) {
                const template = text["notice." + w.code];
                if (document.documentElement.lang === "en" || !template) return w.text;
                return template.replace(/\\{(\\w+)\\}/g, (whole, name) => name in w.values ? w.values[name] : whole);
              }
              function recipe() {
                const structure = $("structure").value, seeds = state.seeds.filter(s => s.structure === structure).map(s => s.mm);
                const item = { preset: structure };
                if (seeded.includes(structure)) item.seedsMM = seeds;
                if (structure === radiusPreset && Number($("radius").value) > 0) item.radiusMM = Number($("radius").value);
                if (structure === windowPreset) {
                  if (Number($("vesselLower").value) > 0) item.lower = Number($("vesselLower").value);
                  if (Number($("vesselUpper").value) > 0) item.upper = Number($("vesselUpper").value);
                  if (Number($("vesselLimit").value) !== 500) item.maxVolumeML = Number($("vesselLimit").value);
                }
                return { structures: [item] };
              }
              // Grow: the preview at once, drawn over the slices, with what it measured.
              $("grow").onclick = async () => {
                say(""); $("result").textContent = text["app.growing"];
                try {
                  const preview = await (await api("POST", "/v1/studies/" + state.study + "/previews", JSON.stringify(recipe()), "application/json")).json();
                  state.preview = preview.previewId;
                  document.body.dataset.preview = preview.previewId;
                  const lines = preview.structures.map(s => {
                    let line = (text["structure." + s.name] || s.name) + ": " + number(s.volumeML, 2) + " mL";
                    if (s.figures && s.figures.maximalDiameterMM) line += ", " + text["app.diameter"] + " " + number(s.figures.maximalDiameterMM, 1) + " mm";
                    return line + s.warnings.map(w => "\\n  " + text["app.warning"] + ": " + notice(w)).join("");
                  });
                  $("result").textContent = lines.join("\\n") + "\\n" + text["app.seconds"] + ": " + number(preview.seconds, 2);
                  await drawAll();
                } catch (e) { $("result").textContent = ""; say(text["app.growFailed"] + ": " + e.message); }
              };
              // Build the scene with the same recipe; follow the job; open the viewer.
              $("build").onclick = async () => {
                say(""); $("result").textContent = text["app.building"];
                try {
                  const job = (await (await api("POST", "/v1/studies/" + state.study + "/jobs", JSON.stringify(recipe()), "application/json")).json()).jobId;
                  for (;;) {
                    const j = await (await api("GET", "/v1/jobs/" + job)).json();
                    $("result").textContent = text["app.building"] + " " + (text["app.state." + j.state] || j.state) + " " + number(j.percent, 0) + " %";
                    if (j.state === "done") { document.body.dataset.package = j.packageId; await openScene(j.packageId, true); return; }
                    if (j.state === "failed" || j.state === "cancelled") { say(text["app.buildFailed"] + ": " + (j.error || j.state)); return; }
                    await new Promise(r => setTimeout(r, 1000));
                  }
                } catch (e) { say(text["app.buildFailed"] + ": " + e.message); }
              };
              async function openScene(pkg, inPlace) {
                const share = await (await api("POST", "/v1/packages/" + pkg + "/shares", JSON.stringify({ expiresInHours: 24 }), "application/json")).json();
                const url = "/view/" + pkg + "?share=" + encodeURIComponent(share.token) + "&lang=" + lang;
                const link = document.createElement("a"); link.href = url; link.id = "sceneLink"; link.textContent = text["app.openScene"]; link.target = "_blank";
                $("result").textContent = text["app.sceneReady"] + " "; $("result").appendChild(link);
                if (!inPlace) window.open(url, "_blank");
              }
              $("back").onclick = () => showHome();
              if (state.token) showHome().catch(() => { sessionStorage.removeItem("vrprep-token"); state.token = null; $("signin").classList.remove("hidden"); });
            })();
            </script>
            </body>
            </html>

            """
    }
}
