/* Gradebook grid: move between cells with the keyboard, and show refused or stale saves in the cell.
 *
 * Enter / ArrowDown: same column, next row (Shift+Enter / ArrowUp: previous row). ArrowLeft / ArrowRight:
 * neighbouring cell of the row, when the caret is at the start / end of the text. Moving focus is what
 * saves: the cell's form posts itself on "change" through htmx. No framework, loaded on the grid only.
 */
(function () {
  "use strict";

  var grid = document.getElementById("gradebook");
  if (!grid) return;

  var FIELDS = "input[name=value], textarea[name=text]";

  function fieldsOf(row) {
    return Array.prototype.slice.call(row.querySelectorAll(FIELDS));
  }

  function focusField(field) {
    if (!field) return false;
    field.focus({ preventScroll: false });
    if (typeof field.select === "function") field.select();
    return true;
  }

  // The field in the same column of another row (dr = +1 / -1).
  function vertical(field, dr) {
    var td = field.closest("td");
    var row = td.parentElement;
    var index = Array.prototype.indexOf.call(row.children, td);
    for (var r = dr > 0 ? row.nextElementSibling : row.previousElementSibling; r;
         r = dr > 0 ? r.nextElementSibling : r.previousElementSibling) {
      var cell = r.children[index];
      var next = cell && cell.querySelector(FIELDS);
      if (next) return next;
    }
    return null;
  }

  function horizontal(field, dc) {
    var fields = fieldsOf(field.closest("tr"));
    return fields[fields.indexOf(field) + dc] || null;
  }

  function caretAt(field, edge) {
    try {
      if (field.selectionStart !== field.selectionEnd) {
        // Everything selected (as after moving in): the arrow leaves the cell.
        return field.selectionStart === 0 && field.selectionEnd === field.value.length;
      }
      return edge === "start" ? field.selectionStart === 0 : field.selectionEnd === field.value.length;
    } catch (e) {
      return true; // inputs without a selection API
    }
  }

  // Save the last row's cell on Enter without moving: blur fires the native "change" once.
  function commit(field) {
    field.blur();
    field.focus();
  }

  grid.addEventListener("keydown", function (event) {
    var field = event.target;
    if (!field.matches || !field.matches(FIELDS) || event.altKey || event.ctrlKey || event.metaKey) return;
    var multiline = field.tagName === "TEXTAREA";
    var target = null;
    switch (event.key) {
      case "Enter":
        event.preventDefault(); // never submit the whole page: htmx saves on change
        target = vertical(field, event.shiftKey ? -1 : 1);
        if (!focusField(target)) commit(field);
        return;
      case "ArrowDown":
        if (multiline && !caretAt(field, "end")) return;
        target = vertical(field, 1);
        break;
      case "ArrowUp":
        if (multiline && !caretAt(field, "start")) return;
        target = vertical(field, -1);
        break;
      case "ArrowLeft":
        if (!caretAt(field, "start")) return;
        target = horizontal(field, -1);
        break;
      case "ArrowRight":
        if (!caretAt(field, "end")) return;
        target = horizontal(field, 1);
        break;
      default:
        return;
    }
    if (target) {
      event.preventDefault();
      focusField(target);
    }
  });

  // What was posted, so that an edit made while the save was on its way is not lost by the swap.
  grid.addEventListener("htmx:configRequest", function (event) {
    var form = event.detail.elt;
    var field = form.querySelector && form.querySelector(FIELDS);
    if (field) form.dataset.sent = field.value;
  });

  // A refused value (422), a stale version (409) or a locked period (423) comes back as the cell with its
  // message: swap it in.
  var pending = null;
  grid.addEventListener("htmx:beforeSwap", function (event) {
    var status = event.detail.xhr.status;
    if (status === 409 || status === 422 || status === 423) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
    if (!event.detail.shouldSwap) return;
    var form = event.detail.target;
    var active = document.activeElement;
    pending = null;
    if (active && form.contains(active)) {
      pending = { id: form.id, value: active.value, changed: active.value !== form.dataset.sent };
    }
  });

  // The sheet's "filled" count follows what the server says is stored (data-filled on each cell).
  var counter = document.getElementById("sheet-filled");
  function recount() {
    if (!counter) return;
    var filled = grid.querySelectorAll("form.cell[data-filled]:not(.cell-comment)").length;
    counter.textContent = filled + "/" + counter.getAttribute("data-total");
  }

  // On the body: the swapped-out form may be detached by the time htmx reports the swap.
  document.body.addEventListener("htmx:afterSwap", function () {
    recount();
    if (!pending) return;
    var form = document.getElementById(pending.id);
    var field = form && form.querySelector(FIELDS);
    var state = pending;
    pending = null;
    if (!field) return;
    field.focus();
    if (state.changed) {
      // The teacher kept typing in this cell while it saved: keep that text and save it once htmx has
      // set up the new cell, with the version that just came back (a value set by script fires no
      // "change" of its own).
      field.value = state.value;
      resave = state.id;
    } else if (typeof field.select === "function") {
      field.select();
    }
  });

  var resave = null;
  document.body.addEventListener("htmx:afterSettle", function () {
    var form = resave && document.getElementById(resave);
    resave = null;
    var field = form && form.querySelector(FIELDS);
    if (field) field.dispatchEvent(new Event("change", { bubbles: true }));
  });

  // Anything else (no permission any more, server error, no network): say so in the cell.
  function fail(event, text) {
    var form = event.detail.elt;
    if (!form || !form.classList || !form.classList.contains("cell")) return;
    form.classList.add("cell-failed");
    var msg = form.querySelector(".cell-msg");
    if (!msg) {
      msg = document.createElement("p");
      msg.className = "cell-msg";
      msg.setAttribute("role", "alert");
      form.appendChild(msg);
    }
    msg.textContent = text;
    var field = form.querySelector(FIELDS);
    if (field) field.setAttribute("aria-invalid", "true");
  }

  grid.addEventListener("htmx:responseError", function (event) {
    var status = event.detail.xhr.status;
    var text = status === 403 ? "Bạn không còn quyền nhập ô này. Chưa lưu."
      : status === 404 ? "Không tìm thấy ô này (học sinh đã chuyển lớp?). Chưa lưu."
      : status === 400 ? "Phiên làm việc đã hết hạn. Tải lại trang rồi nhập lại. Chưa lưu."
      : "Lỗi máy chủ (" + status + "). Chưa lưu: hãy thử lại.";
    fail(event, text);
  });

  grid.addEventListener("htmx:sendError", function (event) {
    fail(event, "Mất kết nối mạng. Chưa lưu: kiểm tra mạng rồi nhập lại ô này.");
  });
})();
