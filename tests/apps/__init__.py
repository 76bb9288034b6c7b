"""Small ASGI apps that the end-to-end tests serve with uvicorn."""
