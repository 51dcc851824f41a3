// Ground Truth's worker pages: drawing boxes on an image, marking entities in a text. What the
// worker drew goes to the form's "drawn" field as the task template's answer would hold it.
"use strict";

function drawnList(form, items, describe, redraw) {
  const field = form.querySelector("[data-drawn]");
  const list = form.querySelector("[data-drawn-list]");
  field.value = JSON.stringify(items);
  list.replaceChildren(...items.map((item, index) => {
    const entry = document.createElement("li");
    const remove = document.createElement("button");
    remove.type = "button";
    remove.textContent = `${describe(item)} ×`;
    remove.title = "Remove";
    remove.addEventListener("click", () => { items.splice(index, 1); drawnList(form, items, describe, redraw); });
    entry.append(remove);
    return entry;
  }));
  redraw(items);
}

function boxes(form) {
  const canvas = form.querySelector("[data-draw]");
  const image = canvas.querySelector("img");
  const items = [];
  const scale = () => image.naturalWidth / image.clientWidth;
  const describe = (box) => `${box.label}: ${box.width}×${box.height} at ${box.left},${box.top}`;
  const redraw = (shown) => {
    canvas.querySelectorAll(".box").forEach((element) => element.remove());
    shown.forEach((box) => {
      const element = document.createElement("div");
      element.className = "box";
      Object.assign(element.style, {
        left: `${box.left / scale()}px`, top: `${box.top / scale()}px`,
        width: `${box.width / scale()}px`, height: `${box.height / scale()}px`,
      });
      const label = document.createElement("span");
      label.textContent = box.label;
      element.append(label);
      canvas.append(element);
    });
  };
  let start = null;
  const point = (event) => {
    const frame = image.getBoundingClientRect();
    return [Math.min(Math.max(event.clientX - frame.left, 0), frame.width),
      Math.min(Math.max(event.clientY - frame.top, 0), frame.height)];
  };
  canvas.addEventListener("pointerdown", (event) => { start = point(event); event.preventDefault(); });
  canvas.addEventListener("pointerup", (event) => {
    if (!start) return;
    const end = point(event);
    const ratio = scale();
    const box = {
      label: form.querySelector('input[name="box_label"]:checked').value,
      left: Math.round(Math.min(start[0], end[0]) * ratio),
      top: Math.round(Math.min(start[1], end[1]) * ratio),
      width: Math.round(Math.abs(end[0] - start[0]) * ratio),
      height: Math.round(Math.abs(end[1] - start[1]) * ratio),
    };
    start = null;
    if (box.width > 0 && box.height > 0) { items.push(box); drawnList(form, items, describe, redraw); }
  });
  window.addEventListener("resize", () => redraw(items));
}

function entities(form) {
  const text = form.querySelector("[data-text]");
  const items = [];
  const describe = (entity) => `${entity.label}: "${text.textContent.slice(entity.startOffset, entity.endOffset)}"`;
  form.querySelectorAll("[data-entity]").forEach((button) => button.addEventListener("click", () => {
    const selection = window.getSelection();
    if (!selection.rangeCount || selection.isCollapsed) return;
    const range = selection.getRangeAt(0);
    if (!text.contains(range.startContainer) || !text.contains(range.endContainer)) return;
    const before = document.createRange();
    before.setStart(text, 0);
    before.setEnd(range.startContainer, range.startOffset);
    const startOffset = before.toString().length;
    items.push({ label: button.dataset.entity, startOffset, endOffset: startOffset + range.toString().length });
    selection.removeAllRanges();
    drawnList(form, items, describe, () => {});
  }));
}

document.querySelectorAll("form[data-labeling]").forEach((form) => {
  if (form.dataset.labeling === "BoundingBox") boxes(form);
  if (form.dataset.labeling === "NamedEntityRecognition") entities(form);
});
