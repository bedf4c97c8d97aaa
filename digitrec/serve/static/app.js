// digitrec's page: live reading over a WebSocket, labelled capture, reading dropped files.
// Plain JavaScript, no build step, no network but the page's own server.
"use strict";

const token = new URLSearchParams(location.search).get("token");
const withToken = (path) => (token ? `${path}${path.includes("?") ? "&" : "?"}token=${encodeURIComponent(token)}` : path);
const $ = (id) => document.getElementById(id);

const video = $("video");
const overlay = $("overlay");
const context = overlay.getContext("2d");
let settings = { frame_width: 640, jpeg_quality: 0.8, max_fps: 15 };
let socket = null;
let lastReply = null;
const sentAt = new Map();
const replyTimes = [];
let nextId = 1;

async function api(path, options = {}) {
  const response = await fetch(withToken(path), options);
  const body = await response.json().catch(() => ({ error: `HTTP ${response.status}` }));
  if (!response.ok) throw new Error(body.error || body.detail || `HTTP ${response.status}`);
  return body;
}

function showCounts(counts) {
  $("count-digits").innerHTML = [...Array(10).keys()].map((d) => `<td>${d}</td>`).join("");
  $("count-values").innerHTML = [...Array(10).keys()].map((d) => `<td>${counts[d] || 0}</td>`).join("");
}

async function loadStatus() {
  const status = await api("/api/status");
  settings = { ...settings, ...status.page };
  $("model").textContent = `${status.model} (${status.preprocess})`;
  showCounts(status.counts);
}

// ------------------------------------------------------------------ live reading
function connect() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  socket = new WebSocket(withToken(`${scheme}://${location.host}/ws`));
  socket.binaryType = "arraybuffer";
  socket.onopen = () => { $("connection").textContent = "connected"; $("connection").className = "good"; };
  socket.onclose = () => {
    $("connection").textContent = "not connected"; $("connection").className = "bad";
    setTimeout(connect, 1000);
  };
  socket.onmessage = (event) => {
    const reply = JSON.parse(event.data);
    if (reply.error) { console.warn(reply.error); return; }
    const now = performance.now();
    if (sentAt.has(reply.id)) {
      $("latency").textContent = `${Math.round(now - sentAt.get(reply.id))} ms`;
    }
    for (const id of sentAt.keys()) if (id <= reply.id) sentAt.delete(id);
    replyTimes.push(now);
    while (replyTimes.length && now - replyTimes[0] > 2000) replyTimes.shift();
    $("fps").textContent = (replyTimes.length / 2).toFixed(1);
    $("text").textContent = reply.text || "–";
    $("smoothed").textContent = reply.smoothed || "–";
    lastReply = reply;
    draw();
  };
}

const frameCanvas = document.createElement("canvas");
function sendFrame() {
  if (!socket || socket.readyState !== WebSocket.OPEN || !video.videoWidth) return;
  if (socket.bufferedAmount > 0) return; // the network is behind: skip, never pile up
  const scale = Math.min(1, settings.frame_width / video.videoWidth);
  frameCanvas.width = Math.round(video.videoWidth * scale);
  frameCanvas.height = Math.round(video.videoHeight * scale);
  frameCanvas.getContext("2d").drawImage(video, 0, 0, frameCanvas.width, frameCanvas.height);
  const id = nextId++;
  frameCanvas.toBlob(async (blob) => {
    if (!blob || socket.readyState !== WebSocket.OPEN) return;
    const header = new Uint8Array(4);
    new DataView(header.buffer).setUint32(0, id);
    sentAt.set(id, performance.now());
    socket.send(await new Blob([header, blob]).arrayBuffer());
  }, "image/jpeg", settings.jpeg_quality);
}

function draw() {
  overlay.width = video.clientWidth;
  overlay.height = video.clientHeight;
  context.clearRect(0, 0, overlay.width, overlay.height);
  if (!lastReply) return;
  const sx = overlay.width / lastReply.width;
  const sy = overlay.height / lastReply.height;
  context.lineWidth = 2;
  context.font = "bold 18px system-ui";
  for (const d of lastReply.digits) {
    if (!d.box) continue;
    const [x, y, w, h] = d.box;
    context.strokeStyle = d.digit === null ? "#e33" : "#2c2";
    context.strokeRect(x * sx, y * sy, w * sx, h * sy);
    const label = `${d.digit === null ? "?" : d.digit} ${(100 * d.confidence).toFixed(0)}%`;
    context.fillStyle = context.strokeStyle;
    context.fillText(label, x * sx, Math.max(16, y * sy - 4));
  }
}

async function startCamera() {
  try {
    video.srcObject = await navigator.mediaDevices.getUserMedia({ video: { width: 1280, height: 720 }, audio: false });
  } catch (error) {
    $("camera-error").hidden = false;
    $("camera-error").textContent = `no camera: ${error.message} (reading dropped files still works)`;
    return;
  }
  setInterval(sendFrame, 1000 / settings.max_fps);
}

// ------------------------------------------------------------------ capture
function fullFrame() {
  const canvas = document.createElement("canvas");
  canvas.width = video.videoWidth;
  canvas.height = video.videoHeight;
  canvas.getContext("2d").drawImage(video, 0, 0);
  return new Promise((resolve) => canvas.toBlob(resolve, "image/png"));
}

async function capture(digit) {
  $("capture-error").hidden = true;
  try {
    if (!video.videoWidth) throw new Error("no camera frame to save");
    const form = new FormData();
    form.append("image", await fullFrame(), "frame.png");
    form.append("digit", String(digit));
    const saved = await api("/api/capture", { method: "POST", body: form });
    $("last-saved").textContent = saved.path;
    if (saved.crop) $("crop").src = saved.crop;
    showCounts(saved.counts);
  } catch (error) {
    $("capture-error").hidden = false;
    $("capture-error").textContent = error.message;
  }
}

async function undo() {
  try {
    const undone = await api("/api/undo", { method: "POST" });
    $("last-saved").textContent = `moved to ${undone.moved_to}`;
    showCounts(undone.counts);
  } catch (error) {
    $("capture-error").hidden = false;
    $("capture-error").textContent = error.message;
  }
}

// ------------------------------------------------------------------ files
async function readFiles(files) {
  for (const file of files) {
    const form = new FormData();
    form.append("image", file, file.name);
    try {
      const record = await api("/api/predict", { method: "POST", body: form });
      $("results").textContent += JSON.stringify(record) + "\n";
    } catch (error) {
      $("results").textContent += JSON.stringify({ source: file.name, error: error.message }) + "\n";
    }
  }
}

function setUp() {
  for (let d = 0; d <= 9; d++) {
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = String(d);
    button.onclick = () => capture(d);
    $("digit-buttons").appendChild(button);
  }
  $("undo").onclick = undo;
  document.addEventListener("keydown", (event) => {
    if (event.target.tagName === "INPUT") return;
    if (/^[0-9]$/.test(event.key)) capture(Number(event.key));
    else if (event.key === "Backspace") undo();
  });
  const drop = $("drop");
  drop.ondragover = (event) => { event.preventDefault(); drop.classList.add("over"); };
  drop.ondragleave = () => drop.classList.remove("over");
  drop.ondrop = (event) => { event.preventDefault(); drop.classList.remove("over"); readFiles(event.dataTransfer.files); };
  window.addEventListener("resize", draw);
}

setUp();
loadStatus().then(() => { connect(); startCamera(); }).catch((error) => {
  $("connection").textContent = error.message;
});
