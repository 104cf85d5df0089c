// Building elements without HTML strings, so that no text from the data is ever parsed as markup.

export function el(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else if (name === "className") element.className = value;
    else if (name === "dataset") Object.assign(element.dataset, value);
    else element.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : String(child));
  }
  return element;
}

export function toast(container, text, { sticky = false, kind = "info", onClick } = {}) {
  const item = el("div", { className: `toast ${kind}` }, text);
  item.addEventListener("click", () => {
    item.remove();
    onClick?.();
  });
  container.prepend(item);
  if (!sticky) setTimeout(() => item.remove(), 6000);
  return item;
}

export function ageText(fromIso, now = Date.now()) {
  const seconds = Math.max(0, Math.round((now - new Date(fromIso).getTime()) / 1000));
  const minutes = Math.floor(seconds / 60);
  return minutes >= 60 ? `${Math.floor(minutes / 60)}h${String(minutes % 60).padStart(2, "0")}` : `${minutes}:${String(seconds % 60).padStart(2, "0")}`;
}
