from nimbus.cli import app

app(prog_name="nimbus")
