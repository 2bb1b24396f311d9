"""How shares are compared: one slack for every rule that adds shares up (control, allocation, bounds).

Low in the house on purpose: the write checks and the projection both need these, and a low room must not
import a high one for a constant.
"""
from __future__ import annotations

TOLERANCE = 1e-9  # shares are compared with this slack: 0.17 + 0.28 + 0.05 is 0.5000000000000001 in floats
FULL = 1.0 + TOLERANCE  # a company's owners holding more than this hold more than all of it
