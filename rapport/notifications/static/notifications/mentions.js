// @mention suggestions in note and activity bodies (textarea[data-mentions]): typing "@ma"
// lists colleagues; a click, Enter or Tab inserts "@username ". Delegated on the document, so
// composers swapped in by htmx work too. The server decides who is notified (only those who
// may see the record), so this is a convenience, not a gate.
(function () {
  "use strict";
  const TOKEN = /(^|[^\w@])@([\w.+-]{0,30})$/;
  let timer = null;
  let request = 0;

  function listFor(area) {
    let list = area.parentElement.querySelector(".mention-suggestions");
    if (!list) {
      list = document.createElement("ul");
      list.className = "mention-suggestions";
      list.setAttribute("role", "listbox");
      list.id = area.id + "-mentions";
      list.setAttribute("aria-label", "People to mention");
      list.hidden = true;
      area.insertAdjacentElement("afterend", list);
      area.setAttribute("aria-controls", list.id);
    }
    return list;
  }
  function close(area) {
    const list = area.parentElement.querySelector(".mention-suggestions");
    if (list) { list.hidden = true; list.replaceChildren(); }
    area.setAttribute("aria-expanded", "false");
  }
  function token(area) {
    const before = area.value.slice(0, area.selectionStart);
    const match = TOKEN.exec(before);
    return match ? match[2] : null;
  }
  function insert(area, username) {
    const caret = area.selectionStart;
    const before = area.value.slice(0, caret).replace(/@[\w.+-]*$/, "@" + username + " ");
    area.value = before + area.value.slice(caret);
    area.selectionStart = area.selectionEnd = before.length;
    close(area);
    area.focus();
  }
  function render(area, users) {
    const list = listFor(area);
    list.replaceChildren();
    users.forEach(function (user, i) {
      const item = document.createElement("li");
      item.setAttribute("role", "option");
      item.id = list.id + "-" + i;
      item.dataset.username = user.username;
      item.className = "mention-option";
      const name = document.createElement("span");
      name.textContent = user.name;
      const handle = document.createElement("span");
      handle.className = "muted";
      handle.textContent = "@" + user.username;
      item.append(name, " ", handle);
      if (i === 0) item.setAttribute("aria-selected", "true");
      list.append(item);
    });
    list.hidden = users.length === 0;
    area.setAttribute("aria-expanded", users.length ? "true" : "false");
  }
  function suggest(area) {
    const q = token(area);
    if (q === null) { close(area); return; }
    const mine = ++request;
    fetch(area.dataset.mentions + "?q=" + encodeURIComponent(q), {
      headers: { Accept: "application/json" }, credentials: "same-origin",
    })
      .then(function (r) { return r.ok ? r.json() : { users: [] }; })
      .then(function (data) { if (mine === request) render(area, data.users || []); })
      .catch(function () { close(area); });
  }
  document.addEventListener("input", function (event) {
    const area = event.target;
    if (!(area instanceof HTMLTextAreaElement) || !area.dataset.mentions) return;
    clearTimeout(timer);
    timer = setTimeout(function () { suggest(area); }, 150);
  });
  document.addEventListener("keydown", function (event) {
    const area = event.target;
    if (!(area instanceof HTMLTextAreaElement) || !area.dataset.mentions) return;
    const list = area.parentElement.querySelector(".mention-suggestions");
    if (!list || list.hidden) return;
    const options = Array.from(list.querySelectorAll("[role=option]"));
    let at = options.findIndex(function (o) { return o.getAttribute("aria-selected") === "true"; });
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      if (at >= 0) options[at].removeAttribute("aria-selected");
      at = (at + (event.key === "ArrowDown" ? 1 : options.length - 1)) % options.length;
      options[at].setAttribute("aria-selected", "true");
      area.setAttribute("aria-activedescendant", options[at].id);
    } else if ((event.key === "Enter" || event.key === "Tab") && at >= 0) {
      event.preventDefault();
      insert(area, options[at].dataset.username);
    } else if (event.key === "Escape") {
      event.preventDefault();
      close(area);
    }
  });
  document.addEventListener("mousedown", function (event) {
    const option = event.target.closest && event.target.closest(".mention-option");
    if (!option) return;
    event.preventDefault();
    const area = option.parentElement.previousElementSibling;
    if (area instanceof HTMLTextAreaElement) insert(area, option.dataset.username);
  });
  document.addEventListener("focusout", function (event) {
    const area = event.target;
    if (area instanceof HTMLTextAreaElement && area.dataset.mentions) {
      setTimeout(function () { close(area); }, 150);
    }
  });
})();
