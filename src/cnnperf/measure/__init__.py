"""Measurement: timers with stability checks, machine calibration (engine + trainer on the real machine)."""
