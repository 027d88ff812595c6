"""Charts as inline SVG strings (matplotlib, no files, no CDN), so a report opens offline."""

from __future__ import annotations

import io
import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

PALETTE = ["#3b6fb6", "#e07b39", "#4a9d5b", "#b5433f", "#7a5aa6", "#8c6d46", "#cf6fae", "#6b6b6b"]


def _svg(fig: plt.Figure) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight")
    plt.close(fig)
    text = buf.getvalue()
    return text[text.index("<svg") :]


def grouped_bars(categories: list[str], series: dict[str, list[float | None]], *, title: str,
                 ylabel: str = "Personalized Safety Score", ylim: tuple[float, float] = (1, 5),
                 errors: dict[str, list[tuple[float, float] | None]] | None = None) -> str:
    """One group of bars per category, one bar per series (e.g. model x context)."""
    fig, ax = plt.subplots(figsize=(max(6.0, 0.9 * len(categories) * max(1, len(series)) ** 0.5 + 2), 3.6))
    width = 0.8 / max(1, len(series))
    for i, (name, values) in enumerate(series.items()):
        xs = [c + (i - (len(series) - 1) / 2) * width for c in range(len(categories))]
        heights = [v if v is not None else 0 for v in values]
        yerr = None
        if errors and name in errors:
            lows = [(v - e[0]) if (e and v is not None) else 0 for v, e in zip(values, errors[name])]
            highs = [(e[1] - v) if (e and v is not None) else 0 for v, e in zip(values, errors[name])]
            yerr = [lows, highs]
        ax.bar(xs, heights, width * 0.95, label=name, color=PALETTE[i % len(PALETTE)], yerr=yerr,
               capsize=2, error_kw={"elinewidth": 0.8, "alpha": 0.7})
    ax.set_xticks(range(len(categories)))
    ax.set_xticklabels(categories, rotation=20 if len(categories) > 6 else 0, ha="right" if len(categories) > 6 else "center")
    ax.set_ylim(*ylim)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(axis="y", alpha=0.3)
    ax.spines[["top", "right"]].set_visible(False)
    ax.legend(fontsize=8, frameon=False, ncol=min(4, len(series)), loc="upper left")
    return _svg(fig)


def radar(axes_labels: list[str], series: dict[str, list[float | None]], *, title: str) -> str:
    """The paper's radar figure: one polygon per series over the domains, radius 1-5."""
    n = len(axes_labels)
    angles = [2 * math.pi * i / n for i in range(n)] + [0.0]
    fig = plt.figure(figsize=(4.6, 4.6))
    ax = fig.add_subplot(111, polar=True)
    for i, (name, values) in enumerate(series.items()):
        vals = [v if v is not None else 0 for v in values]
        vals.append(vals[0])
        ax.plot(angles, vals, color=PALETTE[i % len(PALETTE)], linewidth=1.5, label=name)
        ax.fill(angles, vals, color=PALETTE[i % len(PALETTE)], alpha=0.12)
    ax.set_xticks(angles[:-1])
    ax.set_xticklabels(axes_labels, fontsize=8)
    ax.set_ylim(0, 5)
    ax.set_yticks([1, 2, 3, 4, 5])
    ax.set_yticklabels(["1", "2", "3", "4", "5"], fontsize=7)
    ax.set_title(title, pad=18)
    ax.legend(fontsize=7, frameon=False, loc="upper right", bbox_to_anchor=(1.35, 1.12))
    return _svg(fig)


def horizontal_bars(labels: list[str], values: list[float], *, title: str, baseline: float | None = None,
                    xlabel: str = "Personalized Safety Score", xlim: tuple[float, float] | None | bool = True) -> str:
    """Sorted horizontal bars. ``xlim=True`` uses the 1-5 score scale, None lets data decide."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    fig, ax = plt.subplots(figsize=(6.0, 0.32 * len(values) + 1.2))
    ax.barh([labels[i] for i in order], [values[i] for i in order], color=PALETTE[0])
    if baseline is not None:
        ax.axvline(baseline, color=PALETTE[3], linestyle="--", linewidth=1, label=f"no attribute ({baseline:.2f})")
        ax.legend(fontsize=8, frameon=False, loc="lower right")
    if xlim is True:
        lo = min(values + ([baseline] if baseline is not None else []))
        ax.set_xlim(max(1.0, lo - 0.5), 5)
    elif xlim:
        ax.set_xlim(*xlim)
    else:
        ax.axvline(0, color="#999", linewidth=0.8)
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    ax.spines[["top", "right"]].set_visible(False)
    return _svg(fig)


def lines(series: dict[str, list[tuple[float, float]]], *, title: str, xlabel: str,
          ylabel: str = "Personalized Safety Score", ylim: tuple[float, float] = (1, 5)) -> str:
    """One marked line per series of (x, y) points (e.g. safety versus questions asked)."""
    fig, ax = plt.subplots(figsize=(5.6, 3.4))
    for i, (name, points) in enumerate(series.items()):
        xs, ys = zip(*points) if points else ((), ())
        ax.plot(xs, ys, marker="o", color=PALETTE[i % len(PALETTE)], linewidth=1.5, label=name)
    ax.set_ylim(*ylim)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.spines[["top", "right"]].set_visible(False)
    ax.legend(fontsize=8, frameon=False, loc="lower right")
    return _svg(fig)
