"""Push: real-time intake, hot-lead and live-demo alerts through an outbox, the weekly digest, retraining."""
