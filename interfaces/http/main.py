"""The ASGI entry point uvicorn imports (`interfaces.http.main:app`); settings from the environment."""

from interfaces.http.app import create_app

app = create_app()
