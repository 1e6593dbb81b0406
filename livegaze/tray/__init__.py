"""The PyQt6 tray app: run livegaze during calls (start/stop, on/off, strength, camera, model)."""
