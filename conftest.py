pytest_plugins = ["canyu.testing"]
