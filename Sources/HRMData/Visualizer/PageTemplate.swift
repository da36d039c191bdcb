// PageTemplate.swift: the HTML, CSS and JavaScript of the visualiser page. `__TITLE__` and
// `__DATA__` (the embedded JSON, see PuzzleVisualizer) are filled in by PuzzleVisualizer.

extension PuzzleVisualizer {
  /// The page; everything inline, no network access.
  static let pageTemplate = #"""
<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>__TITLE__ - HRM puzzle visualizer</title>
<style>
  body { font-family: system-ui, sans-serif; margin: 16px; color: #222; }
  h1 { font-size: 20px; margin: 0 0 4px 0; }
  h2 { font-size: 15px; margin: 14px 0 6px 0; }
  .note { color: #8a5a00; font-size: 13px; margin: 4px 0; }
  .chips { display: flex; flex-wrap: wrap; gap: 4px; }
  .chip { border: 1px solid #bbb; background: #f6f6f6; border-radius: 12px; padding: 2px 10px; cursor: pointer; font-size: 13px; }
  .chip.sel { background: #0074D9; color: white; border-color: #0074D9; }
  .example { border: 1px solid #ddd; border-radius: 6px; padding: 8px; margin: 8px 0; display: inline-block; vertical-align: top; }
  .etitle { font-size: 13px; font-weight: 600; margin-bottom: 4px; }
  .panels { display: flex; gap: 14px; align-items: flex-start; }
  figure { margin: 0; }
  figcaption { font-size: 12px; color: #555; margin-bottom: 3px; }
  .grid { display: grid; border: 1px solid #bbb; width: max-content; }
  .cell { box-sizing: border-box; display: flex; align-items: center; justify-content: center; font-size: 11px; line-height: 1; }
  .cell.diff { outline: 2px solid #FF0000; outline-offset: -2px; }
  .sudoku .cell { width: 26px; height: 26px; font-size: 15px; border: 1px solid #ccc; }
  .sudoku .cell.br { border-right: 2px solid #333; }
  .sudoku .cell.bb { border-bottom: 2px solid #333; }
  .sudoku .cell.given { font-weight: 700; }
  .sudoku .cell.filled { color: #0074D9; }
  .sudoku .cell.diff { color: #FF0000; }
  .small .cell { width: 10px; height: 10px; font-size: 8px; }
  .legend { font-size: 12px; color: #555; }
  .swatch { display: inline-block; width: 10px; height: 10px; border: 1px solid #999; margin: 0 2px 0 8px; vertical-align: middle; }
</style>
</head>
<body>
<h1 id="title">__TITLE__</h1>
<div id="summary" class="legend"></div>
<div id="legend" class="legend"></div>
<h2>Sets</h2><div id="sets" class="chips"></div>
<div id="setnote" class="note"></div>
<h2 id="gtitle">Groups</h2><div id="groups" class="chips"></div>
<h2 id="ptitle">Puzzles</h2><div id="pnote" class="note"></div><div id="puzzles" class="chips"></div>
<h2 id="xtitle">Examples</h2><div id="xnote" class="note"></div><div id="examples"></div>
<script id="data" type="application/json">__DATA__</script>
<script>
"use strict";
const D = JSON.parse(document.getElementById("data").textContent);
const ALPH = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
const ARC = ["#000000", "#0074D9", "#FF4136", "#2ECC40", "#FFDC00", "#AAAAAA", "#F012BE", "#FF851B", "#7FDBFF", "#870C25"];
const GENERIC = ["#FFFFFF", "#DDDDDD", "#000000", "#FF0000", "#00FF00", "#0000FF", "#FFFF00", "#FFA500", "#800080", "#00FFFF", "#FFC0CB", "#808080"];
const MAZE = { 0: ["#EEEEEE", ""], 1: ["#333333", ""], 2: ["#FFFFFF", ""], 3: ["#2ECC40", "S"], 4: ["#FF4136", "G"], 5: ["#FFDC00", ""] };
const state = { set: 0, group: 0, puzzle: 0 };

function tokens(s) { return Array.from(s, ch => ch === "." ? -100 : ALPH.indexOf(ch)); }
function el(tag, cls, text) { const e = document.createElement(tag); if (cls) e.className = cls; if (text !== undefined) e.textContent = text; return e; }

// Colour and text of one cell.
function look(t) {
  if (D.kind === "arc") return [t >= 2 && t <= 11 ? ARC[t - 2] : (t === 1 ? "#DDDDDD" : "#FFFFFF"), ""];
  if (D.kind === "maze") return MAZE[t] || ["#FFFFFF", "?"];
  if (D.kind === "sudoku") return [t <= 0 ? "#EEEEEE" : "#FFFFFF", t >= 2 ? String(t - 1) : ""];
  return [t >= 0 ? GENERIC[t % GENERIC.length] : "#FFFFFF", ""];
}

// A grid of cells; cells differing from `ref` (where ref is not ignored) are marked.
function drawGrid(toks, ref, input) {
  const side = D.side || Math.round(Math.sqrt(toks.length));
  const g = el("div", "grid " + (D.kind === "sudoku" ? "sudoku" : "small"));
  g.style.gridTemplateColumns = "repeat(" + side + ", max-content)";
  toks.forEach((t, i) => {
    const [bg, text] = look(t);
    const c = el("div", "cell", text);
    c.style.background = bg;
    c.dataset.t = t;
    if (D.kind === "sudoku") {
      const r = Math.floor(i / side), k = i % side;
      if (k % 3 === 2 && k !== side - 1) c.classList.add("br");
      if (r % 3 === 2 && r !== side - 1) c.classList.add("bb");
      if (input && input[i] >= 2) c.classList.add("given"); else if (input && t >= 2) c.classList.add("filled");
    }
    if (ref && ref[i] >= 0 && ref[i] !== t) c.classList.add("diff");
    g.appendChild(c);
  });
  return g;
}

function panel(caption, grid) { const f = el("figure"); f.appendChild(el("figcaption", "", caption)); f.appendChild(grid); return f; }

function chip(text, selected, onclick) { const b = el("button", "chip" + (selected ? " sel" : ""), text); b.onclick = onclick; return b; }

function render() {
  const sets = document.getElementById("sets"); sets.replaceChildren();
  D.sets.forEach((s, i) => sets.appendChild(chip(s.name, i === state.set, () => { state.set = i; state.group = 0; state.puzzle = 0; render(); })));
  const set = D.sets[state.set];
  let note = set.note || "";
  if (set.groups.length < set.total) note += (note ? "; " : "") + "showing the first " + set.groups.length + " of " + set.total + " groups (hrm visualize --max-groups N embeds more)";
  document.getElementById("setnote").textContent = note;
  document.getElementById("gtitle").textContent = "Groups in " + set.name + " (" + set.total + ")";
  const groups = document.getElementById("groups"); groups.replaceChildren();
  set.groups.forEach((g, i) => groups.appendChild(chip("Group " + g.index, i === state.group, () => { state.group = i; state.puzzle = 0; render(); })));
  const group = set.groups[state.group];
  const puzzles = document.getElementById("puzzles"); puzzles.replaceChildren();
  const examples = document.getElementById("examples"); examples.replaceChildren();
  if (!group) { document.getElementById("ptitle").textContent = "Puzzles"; return; }
  document.getElementById("ptitle").textContent = "Puzzles in group " + group.index + " (" + group.total + ")";
  document.getElementById("pnote").textContent = group.puzzles.length < group.total ? "showing the first " + group.puzzles.length + " of " + group.total + " puzzles (--max-puzzles N embeds more)" : "";
  group.puzzles.forEach((p, i) => puzzles.appendChild(chip("Puzzle #" + p.index + " [ID=" + p.id + ": " + p.name + "]", i === state.puzzle, () => { state.puzzle = i; render(); })));
  const puzzle = group.puzzles[state.puzzle];
  if (!puzzle) return;
  document.getElementById("xtitle").textContent = "Puzzle #" + puzzle.index + " \u2014 ID: " + puzzle.name;
  document.getElementById("xnote").textContent = puzzle.examples.length < puzzle.total ? "showing the first " + puzzle.examples.length + " of " + puzzle.total + " examples" : "";
  puzzle.examples.forEach(x => {
    const box = el("div", "example");
    let title = "Example " + x.index;
    if (x.segments !== undefined) title += ", " + x.segments + " ACT segments";
    if (x.halt !== undefined) title += ", halt confidence " + x.halt;
    box.appendChild(el("div", "etitle", title));
    const panels = el("div", "panels");
    const input = tokens(x.input), label = tokens(x.label);
    panels.appendChild(panel("input", drawGrid(input, null, null)));
    panels.appendChild(panel("label", drawGrid(label, null, input)));
    if (x.prediction !== undefined) {
      const steps = x.steps ? x.steps.map(tokens) : null;
      const fig = panel("prediction", drawGrid(tokens(x.prediction), label, input));
      const wrong = fig.querySelectorAll(".diff").length;
      fig.querySelector("figcaption").textContent = "prediction (" + (wrong === 0 ? "correct" : wrong + (wrong === 1 ? " cell differs" : " cells differ") + " from the label") + ")";
      panels.appendChild(fig);
      if (steps && steps.length) {
        const ctl = el("div", "legend");
        const slider = el("input", "steps"); slider.type = "range"; slider.min = 0; slider.max = steps.length - 1; slider.value = steps.length - 1;
        const lab = el("span", "", "");
        const show = () => {
          const k = Number(slider.value);
          const g = drawGrid(steps[k], label, input);
          fig.replaceChild(g, fig.querySelector(".grid"));
          const w = g.querySelectorAll(".diff").length;
          fig.querySelector("figcaption").textContent = "prediction, ACT step " + (k + 1) + " of " + steps.length + " (" + (w === 0 ? "correct" : w + (w === 1 ? " cell differs" : " cells differ")) + ")";
          lab.textContent = " ACT step " + (k + 1) + "/" + steps.length;
        };
        slider.oninput = show;
        ctl.appendChild(slider); ctl.appendChild(lab);
        fig.appendChild(ctl);
        show();
      }
    }
    box.appendChild(panels);
    examples.appendChild(box);
  });
}

function legend() {
  const L = document.getElementById("legend");
  const items = D.kind === "arc" ? [["PAD", "#FFFFFF"], ["EOS", "#DDDDDD"]].concat(ARC.map((c, i) => ["colour " + i, c]))
    : D.kind === "maze" ? [["wall", "#333333"], ["free", "#FFFFFF"], ["start S", "#2ECC40"], ["goal G", "#FF4136"], ["path", "#FFDC00"]] : [];
  items.forEach(([n, c]) => { const s = el("span", "swatch"); s.style.background = c; L.appendChild(s); L.appendChild(document.createTextNode(n)); });
}

for (const part of location.hash.slice(1).split("&")) {
  const [k, v] = part.split("=");
  if (k in state && !isNaN(Number(v))) state[k] = Number(v);
}
document.getElementById("summary").textContent = D.kind + " puzzles, " + D.side + "x" + D.side + " grids; sets: " + D.sets.map(s => s.name + " (" + s.total + " groups)").join(", ");
legend();
render();
</script>
</body>
</html>
"""#
}
