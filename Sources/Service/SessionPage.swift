import Foundation

/// A live session's page: the package's viewer, joined to the session's WebSocket. It follows
/// the presenter's camera (or lets the reader look around and snap back), lists the participants
/// and the annotations (a distance with its length), measures a distance by two clicks on the
/// model, and gives the presenter's controls to whoever presents.
enum SessionPage {
    static func page(session: String, package: String, share: String, name: String, hostKey: String?, language: Language) -> String {
        let words = language.messages
        func t(_ key: String) -> String { Viewer.escape(words[key] ?? key) }
        let body = """
            <div id="session">
              <div><strong>\(t("session.participants"))</strong> <span id="role"></span></div>
              <ul id="participants"></ul>
              <label><input id="follow" type="checkbox" checked> \(t("session.follow"))</label>
              <button id="measure">\(t("session.measure"))</button>
              <div><strong>\(t("session.annotations"))</strong></div>
              <ul id="annotations"></ul>
              <div id="sessionMessage"></div>
            </div>
            <style>
              #session { position: absolute; top: 8px; right: 8px; margin-top: 28px; background: rgba(0,0,0,0.6); padding: 8px; border-radius: 4px; max-width: 320px; }
              #session ul { margin: 4px 0; padding-left: 18px; }
              #sessionMessage { color: #f99; }
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
                  item.textContent = p.name + (p.id === presenter ? " — " + text["session.presenting"] : "") + (p.hand ? " ✋" : "");
                  if (session.hostKey && p.id !== presenter) {
                    const pass = document.createElement("button"); pass.textContent = text["session.makePresenter"];
                    pass.onclick = () => send({ type: "presenter", id: p.id });
                    item.appendChild(document.createTextNode(" ")); item.appendChild(pass);
                  }
                  list.appendChild(item);
                }
                $("role").textContent = me === presenter ? text["session.youPresent"] : "";
                document.body.dataset.role = me === presenter ? "presenter" : "participant";
              }
              function showAnnotations() {
                const list = $("annotations"); list.textContent = "";
                for (const a of annotations) {
                  const item = document.createElement("li");
                  const length = a.lengthMM !== undefined ? new Intl.NumberFormat(document.documentElement.lang, { maximumFractionDigits: 1 }).format(a.lengthMM) + " mm" : "";
                  item.textContent = [a.text, length].filter(x => x).join(": ") || text["session.point"];
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
                  case "leave": participants = participants.filter(p => p.id !== m.id); if (m.presenter !== undefined) presenter = m.presenter; showParticipants(); break;
                  case "hand": participants = participants.map(p => p.id === m.from ? Object.assign(p, { hand: m.raised }) : p); showParticipants(); break;
                  case "error": $("sessionMessage").textContent = text["session.refused"] + ": " + m.message; document.body.dataset.refused = m.message; break;
                  case "ended": $("sessionMessage").textContent = text["session.ended"]; document.body.dataset.session = "ended"; break;
                }
              };
              socket.onclose = () => { if (document.body.dataset.session !== "ended") { $("sessionMessage").textContent = text["session.closed"]; document.body.dataset.session = "closed"; } };
              function showStructure(name, visible, opacity) {
                loaded.then(root => root.traverse(node => {
                  if (!node.isMesh || (node.name !== name && !(node.parent && node.parent.name === name))) return;
                  node.visible = visible; node.material.transparent = opacity < 1; node.material.opacity = opacity;
                }));
              }
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
              // A distance: two clicks on the model (or the two points given).
              function addDistance(a, b, words) {
                counter += 1;
                send({ type: "annotation", op: "add", annotation: { id: me + "-" + counter, kind: "distance", points: [a, b], text: words || "" } });
              }
              let picks = null;
              $("measure").onclick = () => { picks = []; $("sessionMessage").textContent = text["session.pickTwo"]; };
              canvas.addEventListener("click", event => {
                if (picks === null) return;
                const r = canvas.getBoundingClientRect();
                const ray = new THREE.Raycaster();
                ray.setFromCamera(new THREE.Vector2((event.clientX - r.left) / r.width * 2 - 1, -(event.clientY - r.top) / r.height * 2 + 1), camera);
                loaded.then(root => {
                  const hit = ray.intersectObject(root, true)[0];
                  if (!hit) return;
                  picks.push(hit.point.toArray());
                  if (picks.length === 2) { addDistance(picks[0], picks[1], ""); picks = null; $("sessionMessage").textContent = ""; }
                });
              });
              // For the page's tests and for scripts: the session's own actions.
              window.vrprepSession = { addDistance: addDistance, send: send, moveCamera: (position, target) => {
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
