"""The phase diagram: chi_1 over a sigma_w x sigma_b grid, the critical line, the chosen point."""

from __future__ import annotations

from typing import Any

import numpy as np

from .figures import pyplot, quiet


@quiet
def phase_figure(act: Any, doc: dict[str, Any], n: int = 48) -> Any:
    """log2(chi_1) in a diverging colour map (white at chi_1 = 1), the chi_1 = 1 contour, the point."""
    from ..theory import chi1_grid

    plt = pyplot()
    sw0, sb0 = float(doc["sigma_w"]), float(doc["sigma_b"])
    sws = np.linspace(0.05, max(4.0, 1.5 * sw0), n)
    sbs = np.linspace(0.0, max(1.0, 1.5 * sb0), n)
    chi = chi1_grid(act, sws, sbs)
    fig, ax = plt.subplots(figsize=(7, 5.2))
    with np.errstate(all="ignore"):
        z = np.log2(np.where(chi > 0, chi, np.nan))
    lim = 4.0
    img = ax.pcolormesh(sws, sbs, np.clip(z, -lim, lim), cmap="RdBu_r", vmin=-lim, vmax=lim, shading="auto")
    cb = fig.colorbar(img, ax=ax)
    cb.set_label("log2 chi_1  (blue: ordered, red: chaotic)")
    if np.nanmin(z) < 0 < np.nanmax(z):
        cs = ax.contour(sws, sbs, z, levels=[0.0], colors="black", linewidths=1.5)
        ax.clabel(cs, fmt={0.0: "chi_1 = 1"}, fontsize=8)
    ax.plot([sw0], [sb0], marker="*", markersize=14, color="gold", markeredgecolor="black",
            label=f"sigma_w {sw0:.3g}, sigma_b {sb0:.3g}: chi_1 {doc['chi1']:.3g} ({doc['phase']})")
    ax.set_xlabel("sigma_w  (W ~ N(0, sigma_w^2 / fan_in))")
    ax.set_ylabel("sigma_b  (bias std)")
    ax.set_title(f"phase diagram of {doc['act']}: order to chaos at chi_1 = 1")
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    return fig
