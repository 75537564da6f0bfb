// Sorting and filtering for the report's tables; plain DOM code, no libraries.
"use strict";

// A cell's sort key: its data-value when it has one, else its text; numbers
// as numbers.  null for a blank cell.
function sortKey(row, column, numeric) {
  const cell = row.cells[column];
  const raw = cell.dataset.value ?? cell.textContent.trim();
  if (raw === "") {
    return null;
  }
  return numeric ? Number(raw) : raw;
}

// Sort a table's body by one column.  Blank cells always go last; ties keep
// the page's own order.  The first click sorts numbers largest first and text
// from A to Z (unless the heading says data-first); the next click reverses.
function sortTable(table, header) {
  const column = header.cellIndex;
  const numeric = header.dataset.type === "number";
  const previous = header.getAttribute("aria-sort");
  const first = header.dataset.first || (numeric ? "descending" : "ascending");
  const ascending = previous ? previous === "descending" : first === "ascending";
  const body = table.tBodies[0];
  const rows = Array.from(body.rows).map((row) => ({ row, key: sortKey(row, column, numeric) }));
  rows.sort((a, b) => {
    if (a.key === b.key) {
      return Number(a.row.dataset.order) - Number(b.row.dataset.order);
    }
    if (a.key === null) return 1;
    if (b.key === null) return -1;
    const order = numeric ? a.key - b.key : a.key.localeCompare(b.key);
    return ascending ? order : -order;
  });
  body.append(...rows.map((entry) => entry.row));
  for (const other of header.parentElement.cells) {
    other.removeAttribute("aria-sort");
  }
  header.setAttribute("aria-sort", ascending ? "ascending" : "descending");
}

// Show only the rows and charts of a volume whose group or PI holds the text.
function filterVolume(section, text) {
  const needle = text.trim().toLowerCase();
  for (const item of section.querySelectorAll("[data-filter]")) {
    item.hidden = needle !== "" && !item.dataset.filter.includes(needle);
  }
  const groups = section.querySelectorAll("table.groups tbody tr");
  const visible = Array.from(groups).filter((row) => !row.hidden).length;
  section.querySelector("output.shown").textContent =
    needle === "" ? "" : `${visible} of ${groups.length} groups shown`;
}

for (const table of document.querySelectorAll("table.sortable")) {
  Array.from(table.tBodies[0].rows).forEach((row, index) => { row.dataset.order = index; });
  for (const header of table.tHead.rows[0].cells) {
    header.querySelector("button").addEventListener("click", () => sortTable(table, header));
  }
}

for (const section of document.querySelectorAll("section.volume")) {
  const input = section.querySelector("input.filter");
  input.addEventListener("input", () => filterVolume(section, input.value));
  filterVolume(section, input.value);  // a value kept by the browser on reload
}
