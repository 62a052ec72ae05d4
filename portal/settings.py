# placeholder until the foundation lands
SECRET_KEY = "x"
INSTALLED_APPS = []
