"""The application object uvicorn workers load (``precinct.web.main:app``), configured from the environment."""

from precinct.web.app import create_app

app = create_app()
