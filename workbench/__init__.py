"""The workbench: training, benchmarks and evaluation of the assistant, never on the car.

It imports the runtime (``assistant``, ``firmware_bridge``); the runtime never imports it
(``tests/test_layering.py``). Its commands join ``car-assistant`` through the
``car_assistant.commands`` entry point (``workbench.cli.register``) when the package is
installed; their extra dependencies come with the ``train`` and ``bench`` extras.
"""
