import Foundation

/// A live session's page: the package's viewer, joined to the session's WebSocket. It follows
/// the presenter's camera (or lets the reader look around and snap back), lists the participants
/// and the annotations (a distance with its length), measures a distance by two clicks on the
/// model, shows the others' pointers (and, from headsets, their heads) with their names, and
/// gives the presenter's controls (camera, structures, clip plane) to whoever presents. In a
/// headset the reader's head and controller ray are shared.
enum SessionPage {
    static func page(session: String, package: String, share: String, name: String, hostKey: String?, language: Language) -> String {
        let words = language.messages
        func t(_ key: String) -> String { Viewer.escape(words[key] ?? key) }
        let body = """
            <div id="session">
              <div><strong>\(t("session.participants"))</strong> <span id="role"></span></div>
              <ul id="participants"></ul>
              <label><input id="follow" type="checkbox" checked> \(t("session.follow"))</label>
              <div><input id="annotationText" maxlength="500" placeholder="\(t("session.annotationText"))">
                <button id="measure">\(t("session.measure"))</button> <button id="markPoint">\(t("session.markPoint"))</button></div>
              <label><input id="pointing" type="checkbox"> \(t("session.pointer"))</label>
              <button id="hand">\(t("session.raiseHand"))</button>
              <div id="clipControls"><label><input id="clip" type="checkbox"> \(t("session.clip"))</label>
                <input id="clipDepth" type="range" min="-0.5" max="0.5" step="0.01" value="0"></div>
              <div><strong>\(t("session.annotations"))</strong></div>
              <ul id="annotations"></ul>
              <div id="sessionMessage"></div>
            </div>
            <style>
              #session { z-index: 2; position: absolute; top: 8px; right: 8px; margin-top: 28px; background: rgba(0,0,0,0.6); padding: 8px; border-radius: 4px; max-width: 320px; }
              #session ul { margin: 4px 0; padding-left: 18px; }
              #sessionMessage { color: #f99; }
              .tag { z-index: 1; position: absolute; pointer-events: none; font-size: 12px; padding: 1px 4px; border-radius: 3px; background: rgba(0,0,0,0.7); }
            </style>
            """
        let script = """
              // The live session.
              const session = { id: \(Viewer.jsString(session)), share: \(Viewer.jsString(share)), name: \(Viewer.jsString(name)), hostKey: \(hostKey.map(Viewer.jsString) ?? "null") };
              const $ = id => document.getElementById(id);
              const address = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/v1/sessions/" + encodeURIComponent(session.id) +
                "/ws?share=" + encodeURIComponent(session.share) + "&name=" + encodeURIComponent(session.name) +
                (session.hostKey ? "&hostKey=" + encodeURIComponent(session.hostKey) : "");
              let me = null, presenter = null, participants = [], annotations = [], applying = false, lastSent = 0, counter = 0;
              let presenterCamera = null;
              const socket = new WebSocket(address);
              const send = message => { if (socket.readyState === 1) socket.send(JSON.stringify(message)); };
              function publishCamera() {
                document.body.dataset.camera = JSON.stringify({ position: camera.position.toArray(), target: controls.target.toArray(), up: camera.up.toArray(), fov: camera.fov });
              }
              function applyCamera(m) {
                presenterCamera = m;
                if (!$("follow").checked && me !== presenter) return;
                applying = true;
                camera.position.fromArray(m.position); controls.target.fromArray(m.target); camera.up.fromArray(m.up);
                camera.fov = m.fov; camera.updateProjectionMatrix(); controls.update();
                applying = false;
                publishCamera();
                document.body.dataset.cameraAppliedAt = String(Date.now());
              }
              function showParticipants() {
                const list = $("participants"); list.textContent = "";
                for (const p of participants) {
                  const item = document.createElement("li");
                  item.textContent = p.name + (p.id === presenter ? " — " + text["session.presenting"] : "") + (p.hand ? " (" + text["session.handRaised"] + ")" : "");
                  if (session.hostKey && p.id !== presenter) {
                    const pass = document.createElement("button"); pass.textContent = text["session.makePresenter"];
                    pass.onclick = () => send({ type: "presenter", id: p.id });
                    item.appendChild(document.createTextNode(" ")); item.appendChild(pass);
                  }
                  list.appendChild(item);
                }
                $("role").textContent = me === presenter ? text["session.youPresent"] : "";
                document.body.dataset.role = me === presenter ? "presenter" : "participant";
                $("clipControls").style.display = me === presenter ? "" : "none";
              }
              function showAnnotations() {
                const list = $("annotations"); list.textContent = "";
                for (const a of annotations) {
                  const item = document.createElement("li");
                  const length = a.lengthMM !== undefined ? new Intl.NumberFormat(document.documentElement.lang, { maximumFractionDigits: 1 }).format(a.lengthMM) + " mm" : "";
                  item.textContent = [a.text, length].filter(x => x).join(": ") || text["session.point"];
                  const remove = document.createElement("button"); remove.textContent = "×"; remove.title = text["session.remove"];
                  remove.className = "remove"; remove.onclick = () => send({ type: "annotation", op: "remove", annotation: { id: a.id } });
                  item.appendChild(document.createTextNode(" ")); item.appendChild(remove);
                  list.appendChild(item);
                }
                document.body.dataset.annotations = JSON.stringify(annotations.map(a => ({ id: a.id, lengthMM: a.lengthMM, text: a.text })));
              }
              socket.onmessage = event => {
                const m = JSON.parse(event.data);
                switch (m.type) {
                  case "snapshot":
                    me = m.you; presenter = m.state.presenter; participants = m.state.participants; annotations = m.state.annotations;
                    if (m.state.camera) loaded.then(() => applyCamera(m.state.camera));
                    for (const [name, view] of Object.entries(m.state.structures)) showStructure(name, view.visible, view.opacity);
                    showClip(m.state.clip);
                    showParticipants(); showAnnotations();
                    document.body.dataset.session = "joined";
                    break;
                  case "camera": loaded.then(() => applyCamera(m)); break;
                  case "structure": showStructure(m.name, m.visible, m.opacity); break;
                  case "annotation":
                    if (m.op === "add") annotations.push(m.annotation); else annotations = annotations.filter(a => a.id !== m.annotation.id);
                    showAnnotations(); break;
                  case "presenter": presenter = m.id; showParticipants(); break;
                  case "join": participants.push({ id: m.id, name: m.name, role: m.role }); showParticipants(); break;
                  case "leave":
                    participants = participants.filter(p => p.id !== m.id); if (m.presenter !== undefined) presenter = m.presenter;
                    forget(m.id); showParticipants(); break;
                  case "hand": participants = participants.map(p => p.id === m.from ? Object.assign(p, { hand: m.raised }) : p); showParticipants(); break;
                  case "error":
                    // In the reader's language; the English details stay in the message's tooltip.
                    $("sessionMessage").textContent = text["session.refused"] + ": " + (text["session.error." + m.code] || m.message);
                    $("sessionMessage").title = m.message; document.body.dataset.refused = m.message; break;
                  case "ended":
                    $("sessionMessage").textContent = text["session.ended." + m.code] || text["session.ended"];
                    document.body.dataset.session = "ended"; break;
                  case "pointer": showPointer(m.from, m.origin, m.direction); break;
                  case "avatar": showAvatar(m.from, m.position, m.orientation); break;
                  case "clip": showClip(m.plane); break;
                }
              };
              socket.onclose = () => { if (document.body.dataset.session !== "ended") { $("sessionMessage").textContent = text["session.closed"]; document.body.dataset.session = "closed"; } };
              function showStructure(name, visible, opacity) {
                loaded.then(root => {
                  root.traverse(node => {
                    if (!node.isMesh || node.userData.depthPass || (node.name !== name && !(node.parent && node.parent.name === name))) return;
                    node.visible = visible; setOpacity(node, opacity);
                  });
                  for (const input of document.querySelectorAll("#structures input")) {
                    if (input.dataset.structure !== name) continue;
                    if (input.type === "checkbox") input.checked = visible; else input.value = opacity;
                  }
                });
              }
              // The presenter's structure controls go to everyone.
              loaded.then(() => {
                for (const input of document.querySelectorAll("#structures input")) {
                  input.addEventListener(input.type === "checkbox" ? "change" : "input", () => {
                    if (me === null || me !== presenter) return;
                    const row = [...document.querySelectorAll("#structures input")].filter(i => i.dataset.structure === input.dataset.structure);
                    const box = row.find(i => i.type === "checkbox"), slider = row.find(i => i.type === "range");
                    send({ type: "structure", name: input.dataset.structure, visible: box ? box.checked : true, opacity: slider ? Number(slider.value) : 1 });
                  });
                }
              });
              // The clip plane [a, b, c, d]: what lies where a x + b y + c z + d < 0 is cut away.
              function showClip(plane) {
                document.body.dataset.clip = JSON.stringify(plane || null);
                // The model alone is cut (not the others' heads and pointers); a cut surface shows its inside.
                const normal = plane ? new THREE.Vector3(plane[0], plane[1], plane[2]) : null;
                const planes = plane ? [new THREE.Plane(normal.clone().normalize(), plane[3] / normal.length())] : [];
                renderer.localClippingEnabled = true;
                $("clip").checked = !!plane;
                loaded.then(root => root.traverse(node => {
                  if (!node.isMesh) return;
                  node.material.clippingPlanes = planes; node.material.side = plane ? THREE.DoubleSide : THREE.FrontSide; node.material.needsUpdate = true;
                }));
              }
              // The presenter cuts across its view, at a depth around the target.
              function sendClip() {
                if (me === null || me !== presenter) return;
                if (!$("clip").checked) { showClip(null); send({ type: "clip", plane: null }); return; }
                loaded.then(root => {
                  const normal = controls.target.clone().sub(camera.position).normalize();
                  const size = new THREE.Box3().setFromObject(root).getSize(new THREE.Vector3()).length();
                  const point = controls.target.clone().addScaledVector(normal, Number($("clipDepth").value) * size);
                  const plane = [normal.x, normal.y, normal.z, -normal.dot(point)];
                  showClip(plane); send({ type: "clip", plane: plane });
                });
              }
              $("clip").onchange = sendClip; $("clipDepth").oninput = sendClip;
              // Raised hands.
              let handRaised = false;
              $("hand").onclick = () => {
                handRaised = !handRaised;
                $("hand").textContent = handRaised ? text["session.lowerHand"] : text["session.raiseHand"];
                send({ type: "hand", raised: handRaised });
              };
              // The others: a laser pointer (a line with their name at its end) and, from a headset,
              // a head. Each in its own colour; a pointer not moved for 5 s fades out.
              const others = new Map();
              const colours = [0xffcc00, 0x33ccff, 0xff66cc, 0x66ff66, 0xff8844, 0xaa88ff];
              const nameOf = id => (participants.find(p => p.id === id) || { name: id }).name;
              function other(id) {
                if (others.has(id)) return others.get(id);
                const colour = colours[(parseInt(id.slice(1), 10) || 0) % colours.length];
                const line = new THREE.Line(new THREE.BufferGeometry().setFromPoints([new THREE.Vector3(), new THREE.Vector3()]),
                                            new THREE.LineBasicMaterial({ color: colour }));
                line.visible = false; line.frustumCulled = false; scene.add(line);
                // A dot where the ray meets the model (a line is one pixel wide).
                const dot = new THREE.Mesh(new THREE.SphereGeometry(0.004, 12, 8), new THREE.MeshBasicMaterial({ color: colour }));
                line.add(dot);
                const head = new THREE.Group();
                const skin = new THREE.MeshLambertMaterial({ color: colour });
                const nose = new THREE.Mesh(new THREE.ConeGeometry(0.02, 0.06, 12), skin);
                nose.rotation.x = -Math.PI / 2; nose.position.z = -0.07;
                head.add(new THREE.Mesh(new THREE.SphereGeometry(0.05, 16, 12), skin), nose);
                head.visible = false; scene.add(head);
                const tag = document.createElement("div"); tag.className = "tag"; tag.style.display = "none";
                tag.style.color = "#" + colour.toString(16).padStart(6, "0"); document.body.appendChild(tag);
                const entry = { line: line, head: head, tag: tag, end: null, at: 0 };
                others.set(id, entry);
                return entry;
              }
              function forget(id) {
                const entry = others.get(id);
                if (!entry) return;
                scene.remove(entry.line); scene.remove(entry.head); entry.tag.remove(); others.delete(id);
                publishOthers();
              }
              function publishOthers() {
                document.body.dataset.pointers = JSON.stringify([...others].filter(([, e]) => e.line.visible).map(([id, e]) => ({ id: id, name: nameOf(id), end: e.end.toArray() })));
                document.body.dataset.avatars = JSON.stringify([...others].filter(([, e]) => e.head.visible).map(([id, e]) => ({ id: id, name: nameOf(id), position: e.head.position.toArray() })));
              }
              function showPointer(id, origin, direction) {
                loaded.then(root => {
                  const entry = other(id);
                  const start = new THREE.Vector3().fromArray(origin), way = new THREE.Vector3().fromArray(direction).normalize();
                  const hit = new THREE.Raycaster(start, way).intersectObject(root, true)[0];
                  entry.end = hit ? hit.point : start.clone().addScaledVector(way, 0.5);
                  entry.line.geometry.setFromPoints([start, entry.end]);
                  entry.line.children[0].position.copy(entry.end);
                  entry.line.visible = true; entry.at = performance.now();
                  entry.tag.textContent = nameOf(id);
                  publishOthers();
                });
              }
              function showAvatar(id, position, orientation) {
                const entry = other(id);
                entry.head.position.fromArray(position); entry.head.quaternion.fromArray(orientation); entry.head.visible = true;
                entry.tag.textContent = nameOf(id);
                publishOthers();
              }
              // Each frame: the names follow the pointers' ends; in a headset, its head and its
              // controller's ray are sent (10 and 20 times a second).
              let lastAvatar = 0, lastPointer = 0;
              const controller = renderer.vr.getController(0);
              scene.add(controller);
              const headPosition = new THREE.Vector3(), headOrientation = new THREE.Quaternion(), headScale = new THREE.Vector3();
              function sessionFrame() {
                const now = performance.now();
                const r = canvas.getBoundingClientRect();
                for (const [, entry] of others) {
                  if (entry.line.visible && now - entry.at > 5000) { entry.line.visible = false; publishOthers(); }
                  const anchor = entry.line.visible ? entry.end : entry.head.visible ? entry.head.position : null;
                  if (!anchor) { entry.tag.style.display = "none"; continue; }
                  const p = anchor.clone().project(camera);
                  const visible = p.z < 1 && Math.abs(p.x) <= 1 && Math.abs(p.y) <= 1;
                  entry.tag.style.display = visible ? "block" : "none";
                  entry.tag.style.left = (r.left + window.scrollX + (p.x + 1) / 2 * r.width + 6) + "px";
                  entry.tag.style.top = (r.top + window.scrollY + (1 - p.y) / 2 * r.height - 8) + "px";
                }
                const presenting = renderer.vr.isPresenting && renderer.vr.isPresenting();
                if (presenting && me !== null) {
                  if (now - lastAvatar > 100) {
                    lastAvatar = now;
                    renderer.vr.getCamera(camera).matrixWorld.decompose(headPosition, headOrientation, headScale);
                    send({ type: "avatar", position: headPosition.toArray(), orientation: headOrientation.toArray() });
                  }
                  if (now - lastPointer > 50) {
                    lastPointer = now;
                    const origin = new THREE.Vector3().setFromMatrixPosition(controller.matrixWorld);
                    const direction = new THREE.Vector3(0, 0, -1).transformDirection(controller.matrixWorld);
                    send({ type: "pointer", origin: origin.toArray(), direction: direction.toArray() });
                  }
                }
              }
              renderer.setAnimationLoop(() => { controls.update(); sessionFrame(); renderer.render(scene, camera); });
              // On a screen, the pointer follows the mouse while "Point" is on (20 times a second).
              canvas.addEventListener("pointermove", event => {
                if (!$("pointing").checked || me === null) return;
                const now = performance.now();
                if (now - lastPointer < 50) return;
                lastPointer = now;
                const r = canvas.getBoundingClientRect();
                const ray = new THREE.Raycaster();
                ray.setFromCamera(new THREE.Vector2((event.clientX - r.left) / r.width * 2 - 1, -(event.clientY - r.top) / r.height * 2 + 1), camera);
                const message = { type: "pointer", origin: ray.ray.origin.toArray(), direction: ray.ray.direction.toArray() };
                showPointer(me, message.origin, message.direction);
                send(message);
              });
              // The presenter's camera goes to everyone, at most 30 times a second.
              controls.addEventListener("change", () => {
                publishCamera();
                if (applying || me === null || me !== presenter) return;
                const now = performance.now();
                if (now - lastSent < 33) return;
                lastSent = now;
                document.body.dataset.cameraSentAt = String(Date.now());
                send({ type: "camera", position: camera.position.toArray(), target: controls.target.toArray(), up: camera.up.toArray(), fov: camera.fov });
              });
              $("follow").onchange = () => { if ($("follow").checked && presenterCamera) applyCamera(presenterCamera); };
              // A distance: two clicks on the model (or the two points given); a point: one click. The
              // label is the text field's.
              function addAnnotation(kind, points, words) {
                counter += 1;
                send({ type: "annotation", op: "add", annotation: { id: me + "-" + counter, kind: kind, points: points, text: words || "" } });
              }
              const addDistance = (a, b, words) => addAnnotation("distance", [a, b], words);
              let picks = null, wanted = 2;
              $("measure").onclick = () => { picks = []; wanted = 2; $("sessionMessage").textContent = text["session.pickTwo"]; };
              $("markPoint").onclick = () => { picks = []; wanted = 1; $("sessionMessage").textContent = text["session.pickOne"]; };
              canvas.addEventListener("click", event => {
                if (picks === null) return;
                const r = canvas.getBoundingClientRect();
                const ray = new THREE.Raycaster();
                ray.setFromCamera(new THREE.Vector2((event.clientX - r.left) / r.width * 2 - 1, -(event.clientY - r.top) / r.height * 2 + 1), camera);
                loaded.then(root => {
                  const hit = ray.intersectObject(root, true)[0];
                  if (!hit) return;
                  picks.push(hit.point.toArray());
                  if (picks.length === wanted) {
                    addAnnotation(wanted === 2 ? "distance" : "point", picks, $("annotationText").value.trim());
                    picks = null; $("annotationText").value = ""; $("sessionMessage").textContent = "";
                  }
                });
              });
              // For the page's tests and for scripts: the session's own actions.
              window.vrprepSession = { addDistance: addDistance, send: send, showPointer: (o, d) => { showPointer(me, o, d); send({ type: "pointer", origin: o, direction: d }); },
                clip: (on, depth) => { $("clip").checked = on; $("clipDepth").value = depth; sendClip(); }, moveCamera: (position, target) => {
                camera.position.fromArray(position); controls.target.fromArray(target); controls.update(); controls.dispatchEvent({ type: "change" });
              } };
              loaded.then(() => { document.body.dataset.scene = "ready"; publishCamera(); });
            """
        return Viewer.page(id: package, share: share, language: language, extra: script, extraBody: body)
    }

    /// Before joining: the reader's name (the link's share and host key kept in the form).
    static func nameForm(query: [String: String], language: Language) -> String {
        let words = language.messages
        func t(_ key: String) -> String { Viewer.escape(words[key] ?? key) }
        let hidden = ["share", "hostKey", "lang"].compactMap { key in
            query[key].map { "<input type=\"hidden\" name=\"\(key)\" value=\"\(Viewer.escape($0))\">" }
        }.joined()
        return """
            \(language.pageStart(title: words["session.join"] ?? "Join"))
            <style>body { font-family: sans-serif; background: #111; color: #eee; padding: 24px; }</style>
            </head>
            <body>
            <form method="get">\(hidden)
            <label>\(t("session.yourName")) <input name="name" maxlength="64" required autofocus></label>
            <button>\(t("session.join"))</button>
            </form>
            </body>
            </html>

            """
    }
}
