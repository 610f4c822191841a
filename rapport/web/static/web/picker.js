// Record pickers (rapport/web/pickers.py): a suggestion chosen by click, Enter or arrow keys
// fills the hidden id (or adds a chip in a multiple picker). Typing again forgets the id, so
// what is submitted is always what is shown.
(function () {
  "use strict";
  function box(picker) { return picker.querySelector(".picker-options"); }
  function text(picker) { return picker.querySelector("input[type=search]"); }
  function close(picker) {
    box(picker).replaceChildren();
    text(picker).setAttribute("aria-expanded", "false");
  }
  // A picker under a "link an existing record" radio (data-existing-radio) selects that
  // radio as soon as it is used (the lead conversion dialog).
  function markExisting(picker) {
    const holder = picker.closest("[data-existing-radio]");
    const radio = holder && document.getElementById(holder.dataset.existingRadio);
    if (radio) radio.checked = true;
  }
  function choose(picker, option) {
    markExisting(picker);
    const id = option.dataset.pickId, title = option.dataset.pickTitle;
    if (picker.dataset.multiple) {
      const list = picker.querySelector(".picker-chosen");
      if (!list.querySelector('input[value="' + id + '"]')) {
        const chip = document.createElement("li");
        chip.className = "picker-chip";
        chip.append(title);
        const hidden = document.createElement("input");
        hidden.type = "hidden";
        hidden.name = text(picker).name.replace(/__q$/, "");
        hidden.value = id;
        const remove = document.createElement("button");
        remove.type = "button";
        remove.className = "picker-remove";
        remove.dataset.pickerRemove = "";
        remove.setAttribute("aria-label", "Remove " + title);
        remove.textContent = "×";
        chip.append(hidden, remove);
        list.append(chip);
      }
      text(picker).value = "";
    } else {
      picker.querySelector("[data-picker-id]").value = id;
      text(picker).value = title;
    }
    close(picker);
    text(picker).focus();
  }
  document.addEventListener("click", function (event) {
    const option = event.target.closest("[data-pick-id]");
    if (option) { event.preventDefault(); choose(option.closest("[data-picker]"), option); return; }
    const remove = event.target.closest("[data-picker-remove]");
    if (remove) { event.preventDefault(); remove.closest("li").remove(); return; }
    document.querySelectorAll("[data-picker]").forEach(function (picker) {
      if (!picker.contains(event.target) && box(picker).querySelector("[data-pick-id]")) close(picker);
    });
  });
  document.addEventListener("input", function (event) {
    const picker = event.target.closest && event.target.closest("[data-picker]");
    if (picker && event.target.type === "search" && !picker.dataset.multiple) {
      picker.querySelector("[data-picker-id]").value = "";
    }
    if (picker) markExisting(picker);
  });
  document.addEventListener("change", function (event) {
    const picker = event.target.closest && event.target.closest("[data-picker]");
    if (picker && event.target.type === "radio") markExisting(picker);
  });
  document.addEventListener("keydown", function (event) {
    const picker = event.target.closest && event.target.closest("[data-picker]");
    if (!picker) return;
    const options = Array.from(picker.querySelectorAll("[data-pick-id]"));
    const at = options.indexOf(document.activeElement);
    if (event.key === "ArrowDown" && options.length) {
      event.preventDefault();
      options[Math.min(at + 1, options.length - 1)].focus();
    } else if (event.key === "ArrowUp" && options.length) {
      event.preventDefault();
      (at <= 0 ? text(picker) : options[at - 1]).focus();
    } else if (event.key === "Escape" && options.length) {
      event.preventDefault();
      close(picker);
      text(picker).focus();
    } else if (event.key === "Enter" && event.target.type === "search" && options.length) {
      event.preventDefault();  // Enter takes the first suggestion instead of submitting
      choose(picker, options[0]);
    }
  });
  document.addEventListener("htmx:afterSwap", function (event) {
    const picker = event.target.closest && event.target.closest("[data-picker]");
    if (picker) text(picker).setAttribute("aria-expanded", box(picker).querySelector("[data-pick-id]") ? "true" : "false");
  });
})();
