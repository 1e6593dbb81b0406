"""livegaze: real-time gaze correction for video calls.

The live app: capture -> landmarks -> track -> align -> correct -> blend -> sink.
Torch is never imported here; trained models run through the `engines` package.
"""

__version__ = "0.1.0"

from livegaze.errors import LivegazeError  # noqa: F401
