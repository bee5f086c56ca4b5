import Foundation

/// The web viewer: one HTML page per package, with three.js from Debian's libjs-three (served by
/// the service from its folder), orbit controls, a toggle and an opacity slider per structure,
/// the stereo renders, and an Enter VR button (WebXR) for headsets.
enum Viewer {
    /// Where Debian's libjs-three puts three.js (r111), and the files the page uses.
    static let threeFolder = "/usr/share/javascript/three"
    static let threeFiles = ["build/three.min.js", "examples/js/loaders/GLTFLoader.js",
                             "examples/js/controls/OrbitControls.js", "examples/js/webxr/VRButton.js"]

    /// The page for package `id` in `language`; `share` (if any) is passed on to the package's files.
    /// `extra` (a live session's script, say) runs after the scene is set up, with `scene`,
    /// `camera`, `controls`, `renderer`, `canvas`, `text` and `loaded` (a promise of the package's
    /// root node) in scope (each structure's checkbox and slider carry `data-structure`);
    /// `extraBody` is added to the page's body.
    static func page(id: String, share: String?, language: Language = .en, extra: String = "", extraBody: String = "") -> String {
        let text = language.messages, catalogue = language.catalogueScript
        let unreserved = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "-._~"))
        let query = share.map { "?share=" + ($0.addingPercentEncoding(withAllowedCharacters: unreserved) ?? "") } ?? ""
        let scripts = threeFiles.map { "<script src=\"/static/three/\($0)\"></script>" }.joined(separator: "\n")
        return """
            \(language.pageStart(title: text["viewer.title"]! + " " + id.prefix(12)))
            <style>
              body { margin: 0; font-family: sans-serif; background: #111; color: #eee; }
              #scene { width: 100vw; height: 75vh; display: block; }
              #panel { position: absolute; top: 8px; left: 8px; background: rgba(0,0,0,0.6); padding: 8px; border-radius: 4px; }
              #panel label { display: block; margin: 4px 0; }
              #renders img { max-width: 48%; margin: 4px; }
              #status { position: absolute; top: 8px; right: 8px; }
              #progress { position: absolute; top: 32px; right: 8px; width: 160px; }
            </style>
            \(scripts)
            </head>
            <body>
            <canvas id="scene"></canvas>
            <div id="panel"><strong>\(escape(text["viewer.structures"]!))</strong><div id="structures"></div></div>
            <div id="status">\(escape(text["viewer.loading"]!))</div>
            <progress id="progress" title="\(escape(text["viewer.loading"]!))"></progress>
            <div id="renders"></div>
            \(extraBody)
            <script>
            (function () {
              const text = \(catalogue);
              const base = \(jsString("/v1/packages/" + id));
              const query = \(jsString(query));
              const canvas = document.getElementById("scene");
              const renderer = new THREE.WebGLRenderer({ canvas: canvas, antialias: true });
              renderer.setPixelRatio(window.devicePixelRatio);
              renderer.setSize(canvas.clientWidth, canvas.clientHeight, false);
              renderer.vr.enabled = true;
              // three.js writes its VR button's words in English: they are put in the reader's language.
              const vrButton = THREE.VRButton.createButton(renderer);
              const vrWords = { "ENTER VR": text["vr.enter"], "ENTER_VR": text["vr.enter"], "EXIT VR": text["vr.exit"], "EXIT_VR": text["vr.exit"],
                                "VR NOT FOUND": text["vr.notFound"], "WEBXR NOT SUPPORTED": text["vr.notSupported"] };
              const translate = () => { const word = vrWords[vrButton.textContent]; if (word && vrButton.textContent !== word) vrButton.textContent = word; };
              new MutationObserver(translate).observe(vrButton, { childList: true, characterData: true, subtree: true });
              translate();
              document.body.appendChild(vrButton);
              const scene = new THREE.Scene();
              scene.background = new THREE.Color(0x111111);
              const camera = new THREE.PerspectiveCamera(30, canvas.clientWidth / canvas.clientHeight, 0.01, 10);
              scene.add(new THREE.HemisphereLight(0xffffff, 0x444444, 1.0));
              const light = new THREE.DirectionalLight(0xffffff, 0.6);
              camera.add(light);
              scene.add(camera);
              const controls = new THREE.OrbitControls(camera, canvas);
              let resolveLoaded;
              const loaded = new Promise(resolve => { resolveLoaded = resolve; });
              window.viewerScene = scene;
              // A translucent structure is drawn twice: its depth first (no colour), then its colour
              // where it is the nearest surface. Only its front layer shows, blended over what lies
              // behind, whatever the order of its triangles: without this, the skin over the bone
              // showed its own inner folds in the order they were drawn. The depth pass sits a hair
              // behind (polygon offset), so the colour pass meets it however the two shaders round.
              function setOpacity(node, opacity) {
                const m = node.material, translucent = opacity < 1;
                m.opacity = opacity; m.transparent = translucent; m.depthWrite = !translucent;
                let depth = node.children.find(c => c.userData.depthPass);
                if (translucent && !depth) {
                  depth = new THREE.Mesh(node.geometry, new THREE.MeshBasicMaterial({
                    colorWrite: false, transparent: true, side: m.side, clippingPlanes: m.clippingPlanes,
                    polygonOffset: true, polygonOffsetFactor: 1, polygonOffsetUnits: 1 }));
                  depth.userData.depthPass = true;
                  depth.renderOrder = node.renderOrder - 1;
                  node.add(depth);
                }
                if (depth) depth.visible = translucent;
                m.needsUpdate = true;
              }
              // Translucent structures are drawn inner (smaller) first, each depth pass just before its colour.
              function prepareTranslucency(root) {
                const meshes = [];
                root.traverse(node => { if (node.isMesh && !node.userData.depthPass) meshes.push(node); });
                const radius = node => { node.geometry.computeBoundingSphere(); return node.geometry.boundingSphere.radius; };
                meshes.sort((a, b) => radius(a) - radius(b)).forEach((node, i) => { node.renderOrder = 2 * i + 1; setOpacity(node, node.material.opacity); });
              }
              fetch(base + query).then(r => r.json()).then(manifest => {
                // The stereo renders (below the model, most of a megabyte) are fetched once the
                // model is in: on a slow link they would share its bandwidth.
                const renders = document.getElementById("renders");
                const showRenders = () => {
                  for (const r of manifest.renders.filter(r => r.kind === "side-by-side" || r.kind === "anaglyph")) {
                    const img = document.createElement("img");
                    img.src = base + "/files/" + r.file + query;
                    img.alt = r.kind === "anaglyph" ? text["viewer.anaglyph"] : text["viewer.sideBySide"];
                    renders.appendChild(img);
                  }
                };
                // Levels of detail: the preview (a few hundred kilobytes) is shown first, then the
                // final level replaces it: the full scene, or on a headset (or ?level=headset) the
                // headset level, its ceiling. One after the other, so the preview has the link to
                // itself.
                const levels = manifest.levels || [];
                const wanted = new URLSearchParams(location.search).get("level") ||
                  (/OculusBrowser|Quest|HoloLens|Pico|Wolvic/.test(navigator.userAgent) ? "headset" : "full");
                const last = levels.find(l => l.name === wanted) || levels.find(l => l.name === "full");
                const finalFile = last ? last.file : "scene.glb";
                const preview = levels.find(l => l.name === "preview" && l.file !== finalFile);
                const bar = document.getElementById("progress");
                let framed = false, placeholder = null, finished = false;
                const frame = root => {
                  if (framed) return;
                  framed = true;
                  const box = new THREE.Box3().setFromObject(root);
                  const centre = box.getCenter(new THREE.Vector3()), size = box.getSize(new THREE.Vector3()).length();
                  controls.target.copy(centre);
                  camera.position.copy(centre).add(new THREE.Vector3(0, 0, size * 1.8));
                  camera.near = size / 100; camera.far = size * 10; camera.updateProjectionMatrix();
                };
                const loadFinal = () => new THREE.GLTFLoader().load(base + "/files/" + finalFile + query, gltf => {
                  finished = true;
                  if (placeholder) scene.remove(placeholder);
                  bar.hidden = true;
                  document.body.dataset.level = last ? last.name : "full";
                  const root = gltf.scene;
                  scene.add(root);
                  frame(root);
                  const list = document.getElementById("structures");
                  root.traverse(node => {
                    if (!node.isMesh || node.userData.depthPass) return;
                    const name = node.parent && node.parent.name ? node.parent.name : node.name;
                    const row = document.createElement("label");
                    const box = document.createElement("input"); box.type = "checkbox"; box.checked = true; box.title = text["viewer.show"];
                    box.onchange = () => { node.visible = box.checked; };
                    const slider = document.createElement("input"); slider.type = "range"; slider.min = 0; slider.max = 1; slider.step = 0.05;
                    slider.value = node.material.opacity; slider.title = text["viewer.opacity"];
                    slider.oninput = () => setOpacity(node, Number(slider.value));
                    const label = node.name || name;
                    box.dataset.structure = label; slider.dataset.structure = label;
                    row.appendChild(box); row.appendChild(document.createTextNode(" " + (text["structure." + label] || label) + " ")); row.appendChild(slider);
                    list.appendChild(row);
                  });
                  prepareTranslucency(root);
                  document.getElementById("status").textContent = text["viewer.ready"];
                  document.title = text["viewer.title"] + " — " + text["viewer.ready"];
                  resolveLoaded(root);
                  showRenders();
                }, progress => {
                  if (progress.total > 0) { bar.max = progress.total; bar.value = progress.loaded; }
                }, error => {
                  document.getElementById("status").textContent = text["viewer.sceneFailed"] + ": " + error;
                  showRenders();
                });
                if (preview) {
                  new THREE.GLTFLoader().load(base + "/files/" + preview.file + query, gltf => {
                    if (!finished) {
                      placeholder = gltf.scene;
                      prepareTranslucency(placeholder);
                      scene.add(placeholder);
                      frame(placeholder);
                      document.getElementById("status").textContent = text["viewer.preview"];
                      document.body.dataset.level = "preview";
                    }
                    loadFinal();
                  }, undefined, loadFinal);
                } else {
                  loadFinal();
                }
              }).catch(error => { document.getElementById("status").textContent = text["viewer.packageFailed"] + ": " + error; });
              renderer.setAnimationLoop(() => { controls.update(); renderer.render(scene, camera); });
              \(extra)
            })();
            </script>
            </body>
            </html>

            """
    }

    /// A JavaScript string literal (quotes included) that is also safe inside a <script> element:
    /// quotes, backslashes and control characters escaped as JSON does, and <, >, & and the line
    /// separators as \u escapes, so that no text can end the script or the string.
    static func jsString(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "<", ">", "&", "\u{2028}", "\u{2029}", "'": out += String(format: "\\u%04x", scalar.value)
            case _ where scalar.value < 0x20 || scalar.value == 0x7f: out += String(format: "\\u%04x", scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
            .replacingOccurrences(of: "'", with: "&#39;")
    }
}
