"""The phase diagram: chi_1 over a sigma_w x sigma_b grid, the critical line, the chosen point."""

from __future__ import annotations

from typing import Any

import numpy as np

from .figures import pyplot, quiet


@quiet
def phase_figure(act: Any, doc: dict[str, Any], n: int = 48) -> Any:
    """chi_1 on a log scale in a diverging colour map centred on chi_1 = 1 (white) over the values drawn,
    the chi_1 = 1 contour, the point."""
    from ..theory import chi1_grid

    plt = pyplot()
    sw0, sb0 = float(doc["sigma_w"]), float(doc["sigma_b"])
    sws = np.linspace(0.05, max(4.0, 1.5 * sw0), n)
    sbs = np.linspace(0.0, max(1.0, 1.5 * sb0), n)
    chi = chi1_grid(act, sws, sbs)
    fig, ax = plt.subplots(figsize=(7, 5.2))
    with np.errstate(all="ignore"):
        z = np.log2(np.where(chi > 0, chi, np.nan))
    # a diverging scale centred on chi_1 = 1 (white), each side stretched over the values drawn, so that a
    # chaotic side reaching only chi_1 = 1.3 is as saturated a red as an ordered side reaching 0.01 is blue
    from matplotlib.colors import TwoSlopeNorm
    from matplotlib.ticker import FixedLocator, FuncFormatter

    finite = z[np.isfinite(z)]
    lo = min(float(finite.min()), -1e-3) if finite.size else -1.0
    hi = max(float(finite.max()), 1e-3) if finite.size else 1.0
    img = ax.pcolormesh(sws, sbs, z, cmap="RdBu_r", norm=TwoSlopeNorm(vcenter=0.0, vmin=lo, vmax=hi),
                        shading="auto")
    cb = fig.colorbar(img, ax=ax)
    cb.set_label("chi_1 (log scale; white: 1, blue: ordered, red: chaotic)")
    cb.ax.yaxis.set_major_locator(FixedLocator([lo, lo / 2, 0.0, hi / 2, hi]))  # the ends, 1, and halfway
    cb.ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{2.0 ** v:.3g}"))
    cb.ax.yaxis.set_minor_locator(FixedLocator([]))
    if np.nanmin(z) < 0 < np.nanmax(z):
        cs = ax.contour(sws, sbs, z, levels=[0.0], colors="black", linewidths=1.5)
        ax.clabel(cs, fmt={0.0: "chi_1 = 1"}, fontsize=8)
    ax.plot([sw0], [sb0], marker="*", markersize=14, color="gold", markeredgecolor="black", clip_on=False,
            label=f"this network: sigma_w = {sw0:.3g}, sigma_b = {sb0:.3g}, chi_1 = {doc['chi1']:.3g} ({doc['phase']})")
    ax.set_xlabel("sigma_w  (W ~ N(0, sigma_w^2 / fan_in))")
    ax.set_ylabel("sigma_b  (bias std)")
    ax.set_title(f"phase diagram of {doc['act']}: order to chaos at chi_1 = 1")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.13), fontsize=8, frameon=False)  # off the map
    fig.tight_layout()
    return fig
