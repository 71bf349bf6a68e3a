"""Intake (接诉): every door a request comes in by, its checks, the classifier, photos and the
citizen's codes."""
