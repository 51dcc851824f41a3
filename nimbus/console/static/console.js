// Nimbus console: small enhancements of server-rendered pages. Every page works without this file;
// with it, uploads show progress, the Lex chat keeps its transcript, logs tail and charts draw.
"use strict";

const csrf = () => document.querySelector('meta[name="csrf-token"]').content;

function post(url, fields, extraHeaders = {}) {
  const body = new URLSearchParams(fields);
  return fetch(url, {
    method: "POST",
    body,
    credentials: "same-origin",
    headers: { "X-CSRF-Token": csrf(), Accept: "application/json", ...extraHeaders },
  }).then(async (response) => {
    const answer = await response.json().catch(() => ({}));
    if (!response.ok) {
      const error = answer.Error || {};
      throw new Error(`${error.Code || response.status}: ${error.Message || response.statusText}`);
    }
    return answer;
  });
}

// ---- forms --------------------------------------------------------------------------------------

document.addEventListener("submit", (event) => {
  const form = event.target.closest("[data-confirm]");
  if (form && !window.confirm(form.dataset.confirm)) event.preventDefault();
});

document.addEventListener("change", (event) => {
  if (!event.target.matches("[data-select-all]")) return;
  const table = event.target.closest("table");
  table.querySelectorAll('tbody input[type="checkbox"]').forEach((box) => {
    box.checked = event.target.checked;
  });
});

document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-copy]");
  if (!button) return;
  const source = document.querySelector(button.dataset.copy);
  const text = source.value || source.textContent;
  const done = () => { button.textContent = "Copied"; };
  if (navigator.clipboard) navigator.clipboard.writeText(text).then(done, () => {});
  else { source.select(); document.execCommand("copy"); done(); }
});

// ---- S3 uploads: drag and drop, progress, multipart for large files ------------------------------

function putWithProgress(url, blob, onProgress) {
  return new Promise((resolve, reject) => {
    const request = new XMLHttpRequest();
    request.open("PUT", url);
    request.upload.onprogress = (event) => onProgress(event.loaded);
    request.onload = () => {
      if (request.status >= 200 && request.status < 300) resolve(request.getResponseHeader("ETag"));
      else reject(new Error(`HTTP ${request.status}: ${request.responseText.slice(0, 300)}`));
    };
    request.onerror = () => reject(new Error("the upload was interrupted"));
    request.send(blob);
  });
}

async function uploadFile(zone, file, row) {
  const key = zone.dataset.prefix + file.name;
  const bar = row.querySelector("progress");
  const status = row.querySelector("output");
  const progress = (sent) => { bar.value = sent; };
  const plan = await post(zone.dataset.plan, { key, size: file.size });
  if (plan.Url) {
    await putWithProgress(plan.Url, file, progress);
    return;
  }
  const etags = [];
  let sent = 0;
  try {
    for (let index = 0; index < plan.PartUrls.length; index += 1) {
      const part = file.slice(index * plan.PartSize, (index + 1) * plan.PartSize);
      status.value = `part ${index + 1} of ${plan.PartUrls.length}`;
      etags.push(await putWithProgress(plan.PartUrls[index], part, (loaded) => progress(sent + loaded)));
      sent += part.size;
    }
    await post(zone.dataset.complete, { key, upload_id: plan.UploadId, etags: JSON.stringify(etags) });
  } catch (error) {
    await post(zone.dataset.abort, { key, upload_id: plan.UploadId }).catch(() => {});
    throw error;
  }
}

async function uploadAll(zone, files) {
  const list = zone.querySelector(".uploads");
  const jobs = Array.from(files).map((file) => {
    const row = document.createElement("li");
    row.innerHTML = '<span class="key"></span><progress value="0"></progress><output>waiting</output>';
    row.querySelector("span").textContent = zone.dataset.prefix + file.name;
    row.querySelector("progress").max = file.size || 1;
    list.append(row);
    return { file, row };
  });
  let failed = 0;
  for (const { file, row } of jobs) {
    const status = row.querySelector("output");
    status.value = "uploading";
    try {
      await uploadFile(zone, file, row);
      row.querySelector("progress").value = file.size || 1;
      status.value = "done";
    } catch (error) {
      failed += 1;
      status.value = `failed: ${error.message}`;
      row.classList.add("flash", "error");
    }
  }
  if (!failed) window.location.reload();
}

document.querySelectorAll("[data-upload]").forEach((zone) => {
  zone.addEventListener("dragover", (event) => { event.preventDefault(); zone.classList.add("over"); });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("over");
    uploadAll(zone, event.dataTransfer.files);
  });
  const form = zone.querySelector("[data-upload-form]");
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    uploadAll(zone, form.querySelector('input[type="file"]').files);
  });
});

// ---- Rekognition: a confidence slider hides what falls below it ---------------------------------

document.querySelectorAll("[data-confidence-filter]").forEach((slider) => {
  const output = document.querySelector(slider.dataset.confidenceFilter);
  const apply = () => {
    const floor = Number(slider.value);
    if (output) output.value = `${floor}%`;
    document.querySelectorAll("[data-confidence]").forEach((element) => {
      element.classList.toggle("hidden", Number(element.dataset.confidence) < floor);
    });
  };
  slider.addEventListener("input", apply);
  apply();
});

// ---- Lex test chat: each turn is posted and its rendered answer added to the transcript ----------

document.querySelectorAll("[data-chat]").forEach((form) => {
  const transcript = document.querySelector(form.dataset.chat);
  const inspector = document.querySelector(form.dataset.inspector);
  form.addEventListener("submit", async (event) => {
    if (event.submitter && event.submitter.name === "reset") return; // a reset is a plain form post
    event.preventDefault();
    const input = form.querySelector('[name="text"]');
    const recording = form.querySelector('[name="audio"]');
    const fields = new FormData(form);
    const said = document.createElement("li");
    said.className = "user";
    said.textContent = input.value || "(recording)";
    transcript.append(said);
    input.value = "";
    if (recording) recording.value = "";
    const response = await fetch(form.action, {
      method: "POST",
      body: fields,
      credentials: "same-origin",
      headers: { "X-CSRF-Token": csrf(), "X-Console-Fragment": "1" },
    });
    const html = await response.text();
    const turn = new DOMParser().parseFromString(html, "text/html");
    const heard = turn.querySelector("[data-heard]");
    if (heard && heard.textContent) said.textContent = heard.textContent; // what speech recognition heard
    turn.querySelectorAll("[data-bot-message]").forEach((message) => transcript.append(message));
    const failure = turn.querySelector(".flash.error"); // the turn failed: the page says why
    if (failure) {
      transcript.append(Object.assign(document.createElement("li"), { className: "bot flash error", textContent: failure.textContent }));
    }
    const fresh = turn.querySelector("[data-inspector]");
    if (fresh) inspector.replaceChildren(...fresh.childNodes);
    transcript.scrollTop = transcript.scrollHeight;
    input.focus();
  });
});

// ---- log tail: polls the page's JSON twin for lines after the last one shown ---------------------

document.querySelectorAll("[data-tail]").forEach((log) => {
  let token = log.dataset.token;
  const poll = async () => {
    if (!document.hidden && token) {
      const separator = log.dataset.tail.includes("?") ? "&" : "?";
      const response = await fetch(`${log.dataset.tail}${separator}token=${encodeURIComponent(token)}`, {
        headers: { Accept: "application/json" },
        credentials: "same-origin",
      });
      if (response.ok) {
        const answer = await response.json();
        const atBottom = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
        for (const line of answer.lines || []) log.append(`${line}\n`);
        token = answer.token || token;
        if (atBottom) log.scrollTop = log.scrollHeight;
      }
    }
    window.setTimeout(poll, 2000);
  };
  log.scrollTop = log.scrollHeight;
  window.setTimeout(poll, 2000);
});

// ---- charts (uPlot): series from a JSON block beside the chart -----------------------------------

const PALETTE = ["#0b62c4", "#e8590c", "#2b8a3e", "#c2255c", "#5f3dc4", "#0c8599"];

document.querySelectorAll("[data-chart]").forEach((holder) => {
  const spec = JSON.parse(document.getElementById(holder.dataset.chart).textContent);
  if (!window.uPlot || !spec.x.length) return;
  const dark = window.matchMedia("(prefers-color-scheme: dark)").matches;
  const axis = { stroke: dark ? "#9aa3b1" : "#5a6270", grid: { stroke: dark ? "#2c333d" : "#e3e6eb" } };
  const options = {
    width: holder.clientWidth || 600,
    height: 260,
    scales: { x: { time: false } },
    axes: [{ ...axis, label: spec.xLabel }, axis],
    series: [{ label: spec.xLabel }, ...spec.series.map((series, index) => ({
      label: series.name, stroke: PALETTE[index % PALETTE.length], width: 2, spanGaps: true,
    }))],
  };
  const chart = new window.uPlot(options, [spec.x, ...spec.series.map((series) => series.values)], holder);
  holder.dataset.points = String(spec.x.length);
  window.addEventListener("resize", () => chart.setSize({ width: holder.clientWidth, height: 260 }));
});
