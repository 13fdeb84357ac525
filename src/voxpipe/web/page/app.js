// voxpipe web: one button to talk to the bot over WebRTC, live transcripts of both sides, the latency of
// each turn, a microphone level meter. Plain JavaScript, no build step.
//
// What the page exposes for tests and curious people: window.voxpipe = {state, turns, messages}.
//   messages: [{kind: "user"|"bot", text}], in the order they began.
//   turns: [{turn, serverMs, heardMs}]: per turn, the bot's latency as the server measured it (user
//   stopped speaking -> bot audio started) and as this page heard it (the end-of-turn message -> sound).
//   timeline: {micOpened, offerSent, answered, connected}: ms from pressing Talk to each step of the call
//   (a fake microphone starts playing when it opens: tests compare its lead silence with "connected").
// URL options: ?processing=0 turns the browser's echo cancellation, noise suppression and gain off;
// ?transport=ws uses the WebSocket fallback (also used when the browser has no WebRTC): the microphone
// goes up as 16 kHz PCM16 binary messages, the bot's voice comes down as 24 kHz PCM16, events as JSON text.
"use strict";

const params = new URLSearchParams(location.search);
const ui = {
  talk: document.getElementById("talk"),
  level: document.getElementById("level"),
  status: document.getElementById("status"),
  error: document.getElementById("error"),
  log: document.getElementById("log"),
  remote: document.getElementById("remote"),
};
const state = { state: "idle", turns: [], messages: [], visitor: null, timeline: {} };
window.voxpipe = state;

let pc = null, channel = null, micStream = null, audioContext = null, meterTimer = null;
let socket = null, micNode = null, playHead = 0, playing = [];
let userEntry = null, botEntry = null, userStoppedAt = null, remoteAnalyser = null;

function setState(next, text) {
  state.state = next;
  ui.status.textContent = text;
  ui.talk.textContent = next === "idle" || next === "failed" ? "Talk" : "Stop";
  ui.talk.classList.toggle("live", next === "connected" || next === "connecting");
  ui.talk.disabled = next === "connecting";
}

function showError(text) { ui.error.textContent = text; }

let startedAt = 0;
function mark(step) { state.timeline[step] = Math.round(performance.now() - startedAt); }

function micErrorText(err) {
  if (err && (err.name === "NotAllowedError" || err.name === "SecurityError")) {
    return "The microphone was refused. Allow it for this page (the icon at the left of the address bar), then press Talk again.";
  }
  if (err && err.name === "NotFoundError") return "No microphone was found. Plug one in, then press Talk again.";
  if (err && err.name === "NotReadableError") return "The microphone is busy in another application.";
  if (!navigator.mediaDevices) return "This page needs a secure origin (https or localhost) to use the microphone.";
  return "Could not open the microphone: " + (err && err.message ? err.message : err);
}

function entry(kind, text) {
  const li = document.createElement("li");
  li.className = kind + " pending";
  li.innerHTML = '<span class="who"></span><span class="text"></span><span class="latency"></span>';
  li.querySelector(".who").textContent = kind === "user" ? "You:" : "Bot:";
  li.querySelector(".text").textContent = text || "…";
  ui.log.appendChild(li);
  const item = { kind, li, text: text || "" };
  state.messages.push(item);
  return item;
}

function setText(item, text, done) {
  item.text = text;
  item.li.querySelector(".text").textContent = text || "…";
  if (done) item.li.classList.remove("pending");
}

function latencyText(turn) {
  const parts = [];
  if (turn.serverMs != null) parts.push("bot answered in " + turn.serverMs + " ms");
  if (turn.heardMs != null) parts.push("heard here after " + turn.heardMs + " ms");
  return parts.join(" · ");
}

function newTurn() {
  const turn = { turn: state.turns.length + 1, serverMs: null, heardMs: null, bot: null };
  state.turns.push(turn);
  return turn;
}

function currentTurn() {
  return state.turns.length ? state.turns[state.turns.length - 1] : newTurn();
}

function showLatency(turn) {
  if (turn.bot) turn.bot.li.querySelector(".latency").textContent = latencyText(turn);
}

function onMessage(message) {
  switch (message.type) {
    case "user.speaking":
      if (message.speaking) {
        if (!userEntry) userEntry = entry("user", "");
        userStoppedAt = null;
      } else {
        userStoppedAt = performance.now();
        newTurn();
      }
      break;
    case "user.transcript":
      if (!userEntry) userEntry = entry("user", "");
      if (message.final) { setText(userEntry, message.text, true); userEntry = null; }
      else setText(userEntry, userEntry.text + message.delta, false);
      break;
    case "bot.transcript":
      if (!botEntry) {
        botEntry = entry("bot", "");
        const turn = currentTurn();
        if (!turn.bot) turn.bot = botEntry;
        showLatency(turn);
      }
      setText(botEntry, botEntry.text + message.delta, false);
      break;
    case "bot.done":
      if (botEntry) setText(botEntry, botEntry.text.trim(), true);
      botEntry = null;
      break;
    case "turn.latency": {
      const turn = currentTurn();
      turn.serverMs = message.ms;
      showLatency(turn);
      break;
    }
    case "error":
      showError("The bot reported a problem: " + message.message);
      break;
    case "audio.clear":
      playing.forEach((source) => source.stop());
      playing = [];
      playHead = 0;
      break;
  }
}

// -- levels: the microphone meter and the moment the bot's voice is heard -------------------------------
function rmsOf(analyser, buffer) {
  analyser.getFloatTimeDomainData(buffer);
  let sum = 0;
  for (let i = 0; i < buffer.length; i++) sum += buffer[i] * buffer[i];
  return Math.sqrt(sum / buffer.length);
}

function startMeters() {
  const micAnalyser = audioContext.createAnalyser();
  micAnalyser.fftSize = 1024;
  audioContext.createMediaStreamSource(micStream).connect(micAnalyser);
  const buffer = new Float32Array(micAnalyser.fftSize);
  meterTimer = setInterval(() => {
    const level = Math.min(1, rmsOf(micAnalyser, buffer) * 6);
    ui.level.style.width = (level * 100).toFixed(0) + "%";
    if (remoteAnalyser && userStoppedAt !== null && rmsOf(remoteAnalyser, buffer) > 0.01) {
      const turn = currentTurn();
      turn.heardMs = Math.round(performance.now() - userStoppedAt);
      userStoppedAt = null;
      showLatency(turn);
    }
  }, 20);
}

function watchRemote(stream) {
  ui.remote.srcObject = stream;
  remoteAnalyser = audioContext.createAnalyser();
  remoteAnalyser.fftSize = 1024;
  audioContext.createMediaStreamSource(stream).connect(remoteAnalyser);
}

// -- the call -------------------------------------------------------------------------------------------
function waitForIce(peer) {
  if (peer.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => { if (peer.iceGatheringState === "complete") resolve(); };
    peer.addEventListener("icegatheringstatechange", done);
    setTimeout(resolve, 3000); // a host candidate is all a loopback call needs
  });
}

async function start() {
  showError("");
  startedAt = performance.now();
  state.timeline = {};
  const useSocket = params.get("transport") === "ws" || !window.RTCPeerConnection;
  setState("connecting", "Opening the microphone…");
  const processing = params.get("processing") !== "0";
  try {
    micStream = await navigator.mediaDevices.getUserMedia({
      audio: { echoCancellation: processing, noiseSuppression: processing, autoGainControl: processing },
    });
  } catch (err) {
    setState("failed", "Not connected.");
    showError(micErrorText(err));
    return;
  }
  mark("micOpened");
  audioContext = new AudioContext();
  startMeters();
  setState("connecting", "Connecting to the bot…");
  if (useSocket) return startSocket();
  pc = new RTCPeerConnection();
  channel = pc.createDataChannel("events");
  channel.onmessage = (event) => onMessage(JSON.parse(event.data));
  pc.addTransceiver(micStream.getAudioTracks()[0], { direction: "sendrecv" });
  pc.ontrack = (event) => watchRemote(event.streams[0] || new MediaStream([event.track]));
  pc.onconnectionstatechange = () => {
    if (pc.connectionState === "connected") {
      mark("connected");
      setState("connected", "Connected: speak, the bot is listening.");
    }
    if (pc.connectionState === "failed") { stop(); showError("The connection to the bot failed."); }
  };
  await pc.setLocalDescription(await pc.createOffer());
  await waitForIce(pc);
  mark("offerSent");
  let reply;
  try {
    reply = await fetch("/api/offer", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ sdp: pc.localDescription.sdp, type: pc.localDescription.type }),
    });
  } catch (err) {
    stop();
    showError("Could not reach the server: " + err.message);
    return;
  }
  const answer = await reply.json();
  mark("answered");
  if (!reply.ok) { stop(); showError(answer.error || "The server refused the call."); return; }
  state.visitor = answer.visitor;
  await pc.setRemoteDescription({ sdp: answer.sdp, type: answer.type });
}

// -- the WebSocket fallback ------------------------------------------------------------------------------
const CAPTURE_WORKLET = `
class Capture extends AudioWorkletProcessor {
  process(inputs) { if (inputs[0] && inputs[0][0]) this.port.postMessage(inputs[0][0].slice(0)); return true; }
}
registerProcessor("voxpipe-capture", Capture);`;

function toPcm16(samples, fromRate, toRate) {
  const step = fromRate / toRate;
  const out = new Int16Array(Math.floor(samples.length / step));
  for (let i = 0; i < out.length; i++) {
    const start = Math.floor(i * step), end = Math.max(start + 1, Math.floor((i + 1) * step));
    let sum = 0;
    for (let j = start; j < end; j++) sum += samples[j];
    out[i] = Math.max(-1, Math.min(1, sum / (end - start))) * 32767;
  }
  return out;
}

function playPcm16(buffer) {
  const pcm = new Int16Array(buffer);
  const audio = audioContext.createBuffer(1, pcm.length, 24000);
  const channelData = audio.getChannelData(0);
  for (let i = 0; i < pcm.length; i++) channelData[i] = pcm[i] / 32768;
  const source = audioContext.createBufferSource();
  source.buffer = audio;
  source.connect(remoteAnalyser);
  playHead = Math.max(playHead, audioContext.currentTime + 0.05);
  source.start(playHead);
  playHead += audio.duration;
  playing.push(source);
  source.onended = () => { playing = playing.filter((s) => s !== source); };
}

async function startSocket() {
  remoteAnalyser = audioContext.createAnalyser();
  remoteAnalyser.fftSize = 1024;
  remoteAnalyser.connect(audioContext.destination);
  const url = new URL("/ws", location.href);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  socket = new WebSocket(url);
  socket.binaryType = "arraybuffer";
  socket.onmessage = (event) => {
    if (typeof event.data === "string") onMessage(JSON.parse(event.data));
    else playPcm16(event.data);
  };
  socket.onclose = (event) => {
    if (state.state !== "idle") { stop(); if (event.code !== 1000) showError("The connection to the bot closed: " + (event.reason || event.code)); }
  };
  await new Promise((resolve, reject) => { socket.onopen = resolve; socket.onerror = () => reject(new Error("cannot connect")); })
    .catch((err) => { stop(); showError("Could not reach the server: " + err.message); });
  if (!socket) return;
  await audioContext.audioWorklet.addModule(URL.createObjectURL(new Blob([CAPTURE_WORKLET], { type: "text/javascript" })));
  micNode = new AudioWorkletNode(audioContext, "voxpipe-capture");
  let pending = [];
  micNode.port.onmessage = (event) => {
    pending.push(event.data);
    if (pending.length < 8) return; // 8 x 128 samples: about 20 ms at 48 kHz
    const joined = new Float32Array(pending.reduce((n, a) => n + a.length, 0));
    let offset = 0;
    for (const part of pending) { joined.set(part, offset); offset += part.length; }
    pending = [];
    if (socket && socket.readyState === WebSocket.OPEN) socket.send(toPcm16(joined, audioContext.sampleRate, 16000).buffer);
  };
  audioContext.createMediaStreamSource(micStream).connect(micNode);
  mark("connected");
  setState("connected", "Connected (WebSocket): speak, the bot is listening.");
}

function stop() {
  if (state.visitor) navigator.sendBeacon("/api/visitors/" + state.visitor + "/leave");
  state.visitor = null;
  if (pc) pc.close();
  if (socket) socket.close(1000);
  playing.forEach((source) => source.stop());
  if (micStream) micStream.getTracks().forEach((t) => t.stop());
  if (meterTimer) clearInterval(meterTimer);
  if (audioContext) audioContext.close();
  pc = channel = micStream = audioContext = meterTimer = remoteAnalyser = socket = micNode = null;
  playing = [];
  playHead = 0;
  ui.level.style.width = "0";
  setState("idle", "Not connected.");
}

ui.talk.addEventListener("click", () => (state.state === "idle" || state.state === "failed" ? start() : stop()));
window.addEventListener("pagehide", () => { if (state.visitor) stop(); });
