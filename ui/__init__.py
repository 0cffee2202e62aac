"""The Gradio web app: chat with checkable citations."""
