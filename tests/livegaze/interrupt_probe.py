"""`python -m livegaze ARGS...` with a real Ctrl-C (SIGINT to itself) at a chosen moment, so a
test decides which phase the interrupt hits by construction, not by sleeping:

    interrupt_probe.py import:MODULE ARGS...  as MODULE starts being imported
    interrupt_probe.py model ARGS...          as the face model starts loading
    interrupt_probe.py frames:N ARGS...       after the Nth frame is written to the output file,
                                              then again once the first one's handler has run,
                                              while the run is still stopping
    interrupt_probe.py kill:N ARGS...         SIGKILL after the Nth frame is written
    interrupt_probe.py term:N ARGS...         SIGTERM after the Nth frame is written
"""
import os
import runpy
import signal
import sys
import threading


def interrupt():
    os.kill(os.getpid(), signal.SIGINT)


def at_import(name):
    class Finder:
        @staticmethod
        def find_spec(fullname, path=None, target=None):
            if fullname == name:
                sys.meta_path.remove(Finder)
                interrupt()
            return None

    sys.meta_path.insert(0, Finder)


def at_model():
    from livegaze import landmarks

    loading = landmarks.Landmarker.__init__

    def init(self, *args, **kwargs):
        interrupt()
        return loading(self, *args, **kwargs)

    landmarks.Landmarker.__init__ = init


def signal_at_frame(n, signum):
    from livegaze import sinks

    send = sinks.VideoFileSink.send
    written = []

    def send_counted(self, image):
        send(self, image)
        written.append(1)
        if len(written) == n:
            os.kill(os.getpid(), signum)

    sinks.VideoFileSink.send = send_counted


def at_frame(n):
    from livegaze import pipeline, sinks

    stopping = threading.Event()
    stop, send = pipeline.Pipeline.stop, sinks.VideoFileSink.send
    written = []

    def stop_seen(self, *args, **kwargs):
        stopping.set()
        return stop(self, *args, **kwargs)

    def send_counted(self, image):
        send(self, image)
        written.append(1)
        if len(written) == n:
            interrupt()
            # This output thread holds the run open until the first handler has asked it to
            # stop, so the second Ctrl-C lands while the run is stopping, not after it ended.
            if not stopping.wait(120):
                print("interrupt_probe: the first Ctrl-C was not handled", file=sys.stderr)
                os._exit(99)
            interrupt()

    pipeline.Pipeline.stop, sinks.VideoFileSink.send = stop_seen, send_counted


phase, args = sys.argv[1], sys.argv[2:]
if phase.startswith("import:"):
    at_import(phase.split(":", 1)[1])
elif phase == "model":
    at_model()
elif phase.startswith("frames:"):
    at_frame(int(phase.split(":", 1)[1]))
elif phase.startswith("kill:"):
    signal_at_frame(int(phase.split(":", 1)[1]), signal.SIGKILL)
elif phase.startswith("term:"):
    signal_at_frame(int(phase.split(":", 1)[1]), signal.SIGTERM)
else:
    sys.exit(f"interrupt_probe: unknown phase {phase}")
sys.argv = ["livegaze", *args]
runpy.run_module("livegaze", run_name="__main__", alter_sys=True)
