"""The one exception type the CLI turns into a one-line message and a nonzero exit."""


class LivegazeError(Exception):
    """A user-facing error: the message names the file or option and what was expected."""


class VirtualCameraUnavailable(LivegazeError):
    """No virtual camera device could be opened; the message says how to get one."""
