"""Human-readable output with rich: the per-layer table, thresholds and warnings with hints."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from itertools import groupby
from typing import IO, Any

from rich.console import Console
from rich.text import Text

from ..diagnostics import GRADIENT_KINDS, THRESHOLDS

KIND_STYLE = {
    "vanishing": "bold red", "exploding": "bold red", "saturation": "bold red", "collapse": "bold red",
    "dead": "bold red", "symmetry": "bold red", "not_centered": "cyan",
    "vanishing_gradient": "bold red", "exploding_gradient": "bold red", "zigzag": "cyan",
}


class _Console(Console):
    def on_broken_pipe(self) -> None:
        """The reader went away: let the CLI end quietly with status 0 (rich would exit 1)."""
        self.quiet = True
        raise BrokenPipeError


def make_console(file: IO[str]) -> Console:
    """A console for ``file``: styles (colour and bold) only on a terminal, and none at all with NO_COLOR
    set; the terminal's width (or COLUMNS) on a terminal, unlimited in a pipe (``console.is_terminal``
    tells the two apart: tables and prose lines are laid out to the width only on a terminal)."""
    is_tty = hasattr(file, "isatty") and file.isatty()
    plain = not is_tty or bool(os.environ.get("NO_COLOR"))
    return _Console(file=file, width=None if is_tty else 200, highlight=False, soft_wrap=not is_tty,
                    force_terminal=is_tty, color_system=None if plain else "auto")


def _limit(console: Console) -> int | None:
    """The width to lay out for: the terminal's, or None (unlimited) off a terminal."""
    return console.width if console.is_terminal else None


def say(console: Console, text: str, hang: str = "  ", style: tuple[int, int, str] | None = None) -> None:
    """One prose line, wrapped at spaces (never inside a word, no trailing spaces) to a terminal's width
    with a hanging indent; whole in a pipe. ``style``: (start, end, style) for a span of the first line."""
    width = _limit(console)
    if width is not None and len(text) > width:
        import textwrap

        text = "\n".join(textwrap.wrap(text, width=max(width, 20), subsequent_indent=hang, break_long_words=False,
                                       break_on_hyphens=False))
    line = Text(text)
    if style:
        line.stylize(style[2], style[0], style[1])
    console.print(line, soft_wrap=True)


def say_list(console: Console, prefix: str, items: Sequence[str], hang: str = "  ") -> None:
    """``prefix`` then the items joined with ", ", broken only between items on a terminal."""
    width = _limit(console)
    lines, cur, fresh = [], prefix, False
    for i, item in enumerate(items):
        piece = item + ("," if i < len(items) - 1 else "")
        if width is not None and i and len(cur) + 1 + len(piece) > width:
            lines.append(cur)
            cur, fresh = hang, True
        cur += ("" if fresh else " ") + piece
        fresh = False
    lines.append(cur)
    console.print(Text("\n".join(line.rstrip() for line in lines)), soft_wrap=True)


def num(x: Any, digits: int = 3, compact: bool = False) -> str:
    """A figure with ``digits`` significant digits; '-' for not applicable; inf/nan spelled out.
    ``compact``: the shorter of the fixed and the scientific form, exponents without '+' and leading
    zeros ("0.000533" -> "5.33e-4", "2.68e-05" -> "2.68e-5"): the same digits in fewer columns."""
    if x is None:
        return "-"
    x = float(x)
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    if x == 0:
        return "0"
    g = f"{x:.{digits}g}"
    if not compact:
        return g
    mant, _, exp = f"{x:.{digits - 1}e}".partition("e")
    if "." in mant:
        mant = mant.rstrip("0").rstrip(".")
    sci = f"{mant}e{int(exp)}"
    if "e" in g:
        gm, _, ge = g.partition("e")
        g = f"{gm}e{int(ge)}"
    return sci if len(sci) < len(g) else g


def pct(x: Any) -> str:
    return "-" if x is None else f"{100.0 * float(x):.1f}"


def layer_ranges(layers: Sequence[int]) -> str:
    """[1, 2, 3, 7] -> '1-3, 7'."""
    parts = []
    for _, grp in groupby(enumerate(sorted(layers)), key=lambda t: t[1] - t[0]):
        run = [v for _, v in grp]
        parts.append(str(run[0]) if len(run) == 1 else f"{run[0]}-{run[-1]}")
    return ", ".join(parts)


# Column heads as a narrow terminal shows them, and the columns a terminal may leave out when every row
# holds the same value (the title line states it).
SHORT_HEADS = {
    "sat %": "sat%", "zero %": "zero%", "dead %": "dead%", "theory mean": "th.mean", "theory std": "th.std",
    "std dL/dh": "dL/dh", "std dL/dz": "dL/dz", "mean|dW|": "|dW|", "update ratio": "update",
    "ratio to last": "to last", "theory ratio": "theory", "input std": "in std", "first std": "1st std",
    "max sat %": "sat%", "max dead %": "dead%", "1st warned": "warned", "grad 1st/last": "grad",
    "grad ratio": "grad",
}
UNIFORM_DROPPABLE = {"width"}
LEFT_COLUMNS = {"config", "warnings"}
GAP = 2


def _kinds_text(kinds: Sequence[str], comma: bool = False) -> Text:
    t = Text()
    for i, k in enumerate(kinds):
        if i:
            t.append(", ")
        t.append(k, style=KIND_STYLE.get(k, "bold"))
    return t.append(",") if comma else t


def _ranges_of(keys: Sequence[str]) -> str:
    return layer_ranges([int(k) for k in keys]) if all(k.isdigit() for k in keys) else ", ".join(keys)


def print_table(console: Console, cols: Sequence[str], rows: Sequence[Sequence[Any]],
                kinds: Sequence[Sequence[str]] | None = None) -> None:
    """A table whose widths come from its content, never cutting a cell.

    cols: the heads; rows: cells, each a string (printed as is) or a number (formatted here, so that
    the precision can give way); kinds: per row the warning kinds of a last "warnings" column. Off a
    terminal the full layout is printed. On a terminal narrower than that, the layout gives way step by
    step until it fits: compact numbers (same digits), short heads, a column that holds one value in
    every row left out, the warnings wrapped inside their column, then listed below the table, 2
    significant digits, one space between columns, and last (with 3 digits again) the columns split
    over several tables, each with the first column.
    """
    width = _limit(console)
    narrow: dict[str, Any] = {"compact": True, "short": True, "drop": True}
    steps = [{}, {"compact": True}, {"compact": True, "short": True}, narrow, {**narrow, "wrap": True},
             {**narrow, "below": True}, {**narrow, "below": True, "digits": 2},
             {**narrow, "below": True, "digits": 2, "gap": 1}, {**narrow, "below": True, "split": True}]
    for step in steps if width is not None else steps[:1]:
        lines = _layout(cols, rows, kinds, width, **step)
        if lines is not None:
            break
    for line in lines:
        console.print(line, soft_wrap=True)


def _layout(cols: Sequence[str], rows: Sequence[Sequence[Any]], kinds: Sequence[Sequence[str]] | None,
            width: int | None, compact: bool = False, short: bool = False, drop: bool = False,
            wrap: bool = False, digits: int = 3, below: bool = False, split: bool = False,
            gap: int = GAP) -> list[Text] | None:
    """The lines of one layout, or None when it does not fit ``width``."""
    heads = [SHORT_HEADS.get(c, c) if short else c for c in cols]
    cells = [[c if isinstance(c, str) else num(c, digits, compact) for c in r] for r in rows]
    keep = [j for j, c in enumerate(cols)
            if not (drop and c in UNIFORM_DROPPABLE and len({r[j] for r in cells}) <= 1 and j > 0)]
    heads = [heads[j] for j in keep]
    cells = [[r[j] for j in keep] for r in cells]
    left = [cols[j] in LEFT_COLUMNS for j in keep]
    w = [max([len(h)] + [len(r[j]) for r in cells]) for j, h in enumerate(heads)]
    has_kinds = kinds is not None
    kinds = kinds or [[] for _ in rows]
    warn_inline = has_kinds and not below
    if warn_inline:
        longest = max([len("warnings")] + [len(", ".join(k)) for k in kinds])
        used = sum(w) + gap * len(w)
        if width is not None and used + longest > width:
            if not wrap:
                return None
            longest = max([len("warnings")] + [len(k) + 1 for ks in kinds for k in ks])
            if used + longest > width:
                return None
            longest = width - used
    groups = [list(range(len(heads)))]
    if width is not None and sum(w) + gap * (len(w) - 1) > width:
        if not split:
            return None
        groups, cur = [], [0]
        for j in range(1, len(heads)):
            if sum(w[i] for i in cur + [j]) + gap * len(cur) > width and len(cur) > 1:
                groups.append(cur)
                cur = [0]
            cur.append(j)
        groups.append(cur)

    def cell(j: int, text: str) -> str:
        return text.ljust(w[j]) if left[j] else text.rjust(w[j])

    out: list[Text] = []
    for g, group in enumerate(groups):
        if g:
            out.append(Text(""))
        line = Text()
        for n, j in enumerate(group):
            line.append((" " * gap if n else "") + cell(j, heads[j]), style="bold")
        if warn_inline:
            line.append(" " * gap + "warnings", style="bold")
        line.rstrip()
        out.append(line)
        for r, ks in zip(cells, kinds):
            plain = (" " * gap).join(cell(j, r[j]) for j in group)
            if warn_inline and ks:
                wlines = _wrap_kinds(ks, None if not wrap or width is None else width - len(plain) - gap)
                line = Text(plain + " " * gap)
                for n, part in enumerate(wlines):
                    if n:
                        line.append("\n" + " " * (len(plain) + gap))
                    line.append_text(_kinds_text(part, comma=n < len(wlines) - 1))
                out.append(line)
            else:
                out.append(Text(plain.rstrip()))
    if has_kinds and below and any(kinds):
        out.append(Text("warnings by " + ("layer:" if cols[0] == "layer" else cols[0] + ":")))
        keys = [r[0].strip() for r in cells]
        i = 0
        while i < len(keys):
            if not kinds[i]:
                i += 1
                continue
            j = i
            while cols[0] != "config" and j + 1 < len(keys) and list(kinds[j + 1]) == list(kinds[i]):
                j += 1
            line = Text(f"  {', '.join(keys[i:j + 1]) if cols[0] == 'config' else _ranges_of(keys[i:j + 1])}: ")
            parts = _wrap_kinds(kinds[i], None if width is None else width - len(line), None if width is None
                                else width - 4)
            for n, part in enumerate(parts):
                if n:
                    line.append("\n    ")
                line.append_text(_kinds_text(part, comma=n < len(parts) - 1))
            out.append(line)
            i = j + 1
    return out


def _wrap_kinds(kinds: Sequence[str], width: int | None, later: int | None = None) -> list[list[str]]:
    """The kinds in lines of at most ``width`` characters (``later`` for the lines after the first; at
    least one kind per line), each line but the last to be followed by a comma."""
    if width is None:
        return [list(kinds)]
    lines: list[list[str]] = [[]]
    for k in kinds:
        room = width if len(lines) == 1 else (later or width)
        if lines[-1] and len(", ".join(lines[-1] + [k])) + 1 > room:
            lines.append([])
        lines[-1].append(k)
    return lines


def _seeds_text(ws: Sequence[dict[str, Any]], n: int) -> str:
    """'in 7/8 seeds' (the most seeds any layer of the group fired in; a range when they differ)."""
    c = [w.get("seeds_fired", n) for w in ws]
    return f"in {max(c)}/{n} seeds" if min(c) == max(c) else f"in {min(c)}-{max(c)}/{n} seeds"


def _rule_text(rule: str) -> str:
    """What a rule's value is: THRESHOLDS' description without its comparison ("... below this")."""
    d = THRESHOLDS[rule][1]
    for tail in (" below this", " above this", ", above this"):
        d = d.replace(tail, "")
    return d.replace("--grad: ", "")


def render_warnings(console: Console, warnings: Sequence[dict[str, Any]], seeds: int = 1) -> None:
    """Warnings grouped by kind and rule (one line per rule, with its own value range and threshold):
    the layers, the value range against the threshold, with several seeds the seeds it fired in, with
    one a borderline mark, the message (for the first layer of the group) and the hint."""
    if not warnings:
        console.print("No warnings.")
        return
    console.print("Warnings:")
    order: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for w in warnings:
        order.setdefault((w["kind"], w.get("rule", "")), []).append(w)
    for (kind, rule), ws in order.items():
        layers = [w["layer"] for w in ws]
        vals = [w["value"] for w in ws if w["value"] is not None and math.isfinite(w["value"])]
        where = "input" if layers == [0] else f"layer{'s' if len(layers) > 1 else ''} {layer_ranges(layers)}"
        if vals:
            lo, hi = min(vals), max(vals)
            span = num(lo) if lo == hi else f"{num(lo)}..{num(hi)}"
        else:
            span = "inf/NaN"
        style = KIND_STYLE.get(kind, "bold")
        rule_txt = f" ({rule}: {_rule_text(rule)})" if rule in THRESHOLDS else ""
        extra = f", {_seeds_text(ws, seeds)}" if seeds > 1 else ""
        near = [w["layer"] for w in ws if w.get("borderline")]
        if near:
            at = "input" if near == [0] else f"layer{'s' if len(near) > 1 else ''} {layer_ranges(near)}"
            extra += (f"; borderline at {at}: within the"
                      " seed-to-seed spread of the threshold, add --seeds to be sure")
        say(console, f"  {kind} ({where}): value {span}, threshold {num(ws[0]['threshold'])}{rule_txt}{extra}",
            hang="    ", style=(2, 2 + len(kind), style))
        say(console, f"    {ws[0]['message']}", hang="    ")
        say(console, f"    fix: {ws[0]['hint']}", hang="    ")


def render_probe_table(doc: dict[str, Any], file: IO[str]) -> None:
    """The probe report: a config line, the per-layer table, thresholds, warnings."""
    console = make_console(file)
    cfg = doc["config"]
    widths = cfg["widths"]
    width_txt = str(widths[0]) if len(set(widths)) == 1 else ",".join(map(str, widths))
    extras = []
    if cfg.get("batchnorm"):
        extras.append("batchnorm")
    if cfg.get("dropout"):
        extras.append(f"dropout {cfg['dropout']:g} ({cfg['dropout_mode']})")
    if cfg.get("bias_std"):
        extras.append(f"bias std {cfg['bias_std']:g}")
    if cfg.get("gain", 1.0) != 1.0:
        extras.append(f"gain {cfg['gain']:g}")
    say(console,
        f"actstat probe: {cfg['layers']} layers x {width_txt}, act {cfg['act']}, init {cfg['init']},"
        f" input {cfg['input']} {cfg['batch']}x{cfg['input_dim']},"
        f" {cfg['dtype']}, {_seed_label(doc)}" + (", " + ", ".join(extras) if extras else ""))
    by_layer: dict[int, list[str]] = {}
    for w in doc["warnings"]:
        by_layer.setdefault(w["layer"], [])
        if w["kind"] not in by_layer[w["layer"]]:
            by_layer[w["layer"]].append(w["kind"])
    theory = any(L.get("theory") for L in doc["layers"])
    cols = ["layer", "width", "mean", "std", "min", "max", "sat %", "zero %", "dead %"]
    cols += ["theory mean", "theory std"] if theory else []
    seeded = "seeds" in doc
    if seeded:
        cols.insert(4, "std ±")
    rows, row_kinds = [], []
    for i, (name, s) in enumerate([("input", doc["input"])] + [(str(L["layer"]), L) for L in doc["layers"]]):
        row_kinds.append([k for k in by_layer.get(i, []) if k not in GRADIENT_KINDS])
        cells = [name, str(s["width"]), s["mean"], s["std"], s["min"], s["max"],
                 pct(s["saturated_frac"]), pct(s["zero_frac"]), pct(s["dead_frac"])]
        if seeded:
            cells.insert(4, _spread_pct(s))
        if theory:
            t = s.get("theory") or {}
            cells += [t.get("mean"), t.get("std")]
        rows.append(cells)
    print_table(console, cols, rows, row_kinds)
    sat_rule = doc.get("saturation_rule")
    say(console,
        f"saturated: {sat_rule if sat_rule else 'no saturating region for ' + cfg['act']}"
        "; dead unit: exactly 0 for every example; mean/std over the whole batch x width matrix")
    if any("grad" in L for L in doc["layers"]):
        render_grad_table(console, doc, by_layer)
    grad = any("grad" in L for L in doc["layers"])
    t = {k: v for k, v in doc["thresholds"].items() if grad or k not in GRADIENT_KINDS}
    say_list(console, "thresholds:", [f"{k} {num(v)}" for k, v in t.items()])
    for note in doc.get("notes", []):
        say(console, f"note: {note}")
    if seeded:
        say(console, f"std ±: half the min..max range over the seeds, relative to the median; --fail-on:"
                     f" {doc['seeds']['fail_rule']}")
    render_warnings(console, doc["warnings"], doc["seeds"]["n"] if seeded else 1)
    if doc.get("suggest"):
        render_suggest(console, doc["suggest"])


def _seed_label(doc: dict[str, Any]) -> str:
    if "seeds" not in doc:
        return f"seed {doc['config']['seed']}"
    ss = doc["seeds"]["list"]
    return f"seeds {ss[0]}..{ss[-1]} (medians)"


def _spread_pct(s: dict[str, Any]) -> str:
    """Half the seeds' std range relative to the median std, e.g. '12%' ('-' for the input, which has none)."""
    sp = (s.get("spread") or {}).get("std")
    if not sp or not s.get("std"):
        return "-"
    return f"{100.0 * (sp[1] - sp[0]) / 2 / abs(s['std']):.0f}%"


def render_suggest(console: Console, sug: dict[str, Any]) -> None:
    """The ranked candidate fixes: each warned figure before -> after, better or worse."""
    console.print(f"\nSuggested fixes (each re-run with the same seeds; {sug['alarms_before']:g} alarms before, warned layers per seed):")
    if not sug["candidates"]:
        console.print("  no warnings: nothing to fix" if not sug["kinds"]
                      else "  no candidate fix differs from the current setting")
        return
    for r in sug["candidates"]:
        parts = []
        for k, f in r["figures"].items():
            verdict = "better" if f["better"] else ("worse" if f["worse"] else "same")
            parts.append(f"{f['figure']} {num(f['before'])} -> {num(f['after'])} ({verdict})")
        say(console, f"  {r['rank']}. {r['label']}: {r['alarms']:g} alarms; " + "; ".join(parts), hang="     ")
    say(console, f"best: {sug['best'] or 'none of the candidates improves every warned figure'}")


def render_grad_table(console: Console, doc: dict[str, Any], by_layer: dict[int, list[str]]) -> None:
    """The backward pass: one row per layer."""
    cfg = doc["config"]
    console.print()
    say(console, f"backward pass: loss {cfg['loss']}, lr {cfg['lr']:g}")
    theory = any(L.get("theory") for L in doc["layers"])
    cols = ["layer", "std dL/dh", "std dL/dz", "||dW||", "mean|dW|", "zero %", "update ratio", "ratio to last"]
    cols += ["theory ratio"] if theory else []
    rows, row_kinds = [], []
    for L in doc["layers"]:
        g = L["grad"]
        row_kinds.append([k for k in by_layer.get(L["layer"], []) if k in GRADIENT_KINDS])
        cells = [str(L["layer"]), g["std"], g["pre_std"], g["weight_norm"], g["weight_mean_abs"],
                 pct(g["zero_frac"]), g["update_ratio"], g["norm_ratio_to_last"]]
        if theory:
            cells.append((L.get("theory") or {}).get("grad_scale"))
        rows.append(cells)
    print_table(console, cols, rows, row_kinds)
    say(console, "ratio to last: RMS of dL/dh at the layer / at the last layer; update ratio: lr ||dW|| / ||W||")


def render_catalogue(rows: Sequence[tuple[str, str, str]], title: str, file: IO[str]) -> None:
    """A catalogue: name, parameter, formula."""
    console = make_console(file)
    import textwrap

    heads = ("name", "parameter", "formula")
    w = [max(len(h), *(len(r[j]) for r in rows)) for j, h in enumerate(heads[:2])]
    width = _limit(console)
    left = w[0] + w[1] + 2 * GAP
    # on a terminal the formula wraps in its own column; where that column would be too narrow, the
    # formula goes under the name, indented; in a pipe every entry is one line
    room = None if width is None else width - left
    under = room is not None and room < 30
    stacked = width is not None and w[0] + GAP + w[1] > width  # name, parameter and formula on lines of their own
    head = (f"{heads[0].ljust(w[0])}{' ' * GAP}{heads[1].ljust(w[1])}{' ' * GAP}{heads[2]}" if not under
            else f"{heads[0].ljust(w[0])}{' ' * GAP}{heads[1]}" if not stacked else "name / parameter / formula")
    say(console, title)
    console.print(Text(head, style="bold"), soft_wrap=True)
    for name, param, formula in rows:
        lead = f"{name.ljust(w[0])}{' ' * GAP}{param.ljust(w[1])}{' ' * GAP}"
        if room is None:
            lines = [lead + formula]
        elif under:
            first = [name] + (["  " + param] if param else []) if stacked else [lead.rstrip()]
            lines = first + textwrap.wrap(formula, width=max(width - 4, 10), initial_indent="    ",
                                          subsequent_indent="    ", break_on_hyphens=False)
        else:
            parts = textwrap.wrap(formula, width=room, break_on_hyphens=False) or [""]
            lines = [lead + parts[0]] + [" " * left + p for p in parts[1:]]
        console.print(Text("\n".join(line.rstrip() for line in lines)), soft_wrap=True)


def render_list_table(doc: dict[str, Any], file: IO[str]) -> None:
    """Both catalogues, each entry with its parameter and formula."""
    def label(d: dict[str, Any]) -> str:
        return d["name"] + (f" ({', '.join(d['aliases'])})" if d["aliases"] else "")

    render_catalogue([(label(d), d["param"] or "", d["formula"]) for d in doc["inits"]], "Initialisers (--init)",
                     file)
    file.write("\n")
    render_catalogue(
        [(label(d), d["param"] or "", d["formula"] + (f"; saturated: {d['saturated']}" if d["saturated"] else ""))
         for d in doc["activations"]], "Activations (--act)", file,
    )
    if doc.get("optimizers"):
        file.write("\n")
        render_catalogue([(label(d), d["param"] or "", f"{d['formula']} (default lr {d['default_lr']:g})")
                          for d in doc["optimizers"]], "Optimisers (--optimizer; W the weights, dW the gradient,"
                         " eta = --lr)", file)


def render_compare_table(doc: dict[str, Any], file: IO[str]) -> None:
    """One row per configuration, then the warning kinds per configuration."""
    console = make_console(file)
    say(console, f"actstat compare: {len(doc['configs'])} configurations, seed {doc['seed']}, same input batch"
                 f" ({doc['input']}, {doc['batch']} examples)")
    grad = any("grad_first_last_ratio" in r for r in doc["configs"])
    cols = ["config", "input std", "first std", "last std", "min std", "max sat %", "max dead %", "1st warned"]
    cols += ["grad 1st/last"] if grad else []
    rows, row_kinds = [], []
    for r in doc["configs"]:
        cells = [r["config"], r["input_std"], r["first_std"], r["last_std"], r["min_std"],
                 pct(r["max_saturated_frac"]), pct(r["max_dead_frac"]),
                 "-" if r["first_warning_layer"] is None else str(r["first_warning_layer"])]
        if grad:
            cells.append(r.get("grad_first_last_ratio"))
        rows.append(cells)
        row_kinds.append(list(r["warnings"]))
    print_table(console, cols, rows, row_kinds)
    say(console, "1st warned: first layer with a warning other than the informational ones;"
                 " run 'actstat probe' with a configuration's options for its warnings and fixes")


def render_theory_table(doc: dict[str, Any], file: IO[str]) -> None:
    """The variance map layer by layer, with q*, chi_1, the phase, the depth scales."""
    console = make_console(file)
    crit = doc["critical_sigma_w"]
    say(console,
        f"actstat theory: act {doc['act']}, sigma_w {doc['sigma_w']:.6g}, sigma_b {doc['sigma_b']:g},"
        f" q0 {doc['q0']:g}")
    say(console,
        f"fixed point q* = {num(doc['q_star'])}, chi_1 = {num(doc['chi1'])}: {doc['phase']};"
        f" depth scales xi_q = {num(doc['xi_q']) if doc['xi_q'] is not None else 'inf'},"
        f" xi_c = {num(doc['xi_c']) if doc['xi_c'] is not None else 'inf'}")
    say(console, "critical sigma_w at this sigma_b: "
        + (f"{crit:.6g}" if crit is not None else "none (no sigma_w makes chi_1 = 1 here)"))
    rows = [[str(L["layer"]), L["q"], L["mean"], L["std"], L["chi"], L["grad_scale"]] for L in doc["layers"]]
    print_table(console, ["layer", "q", "mean", "std", "chi", "grad ratio"], rows)
    say(console, "q: pre-activation variance; mean/std: of the activations; chi: sigma_w^2 E[phi'^2], the layer's"
                 " gradient factor; grad ratio: predicted RMS dL/dh over the last layer's")
