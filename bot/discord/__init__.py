"""Discord front-end (discord.py 2.x): see client.py, cog.py, render.py."""
