"""Telegram front-end (python-telegram-bot v22): see app.py, polling.py, webhook.py, render.py."""
