"""CXR Triage inference core: pixels in, findings out. Never imports Qt."""
