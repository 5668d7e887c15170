"""The compiled kernels of the fast engine, a C extension (everything else is in pyproject.toml).

The extension is optional: where no C compiler is found the build goes on without it and
the fast engine runs its NumPy kernels (``mlp_functional.fast.backend``).
"""

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

# No fused multiply-adds the NumPy form would not do; the other two let the loops vectorise.
UNIX_FLAGS = ["-O3", "-ffp-contract=off", "-fno-math-errno", "-fno-trapping-math", "-std=c99"]


class BuildKernels(build_ext):
    def build_extensions(self) -> None:
        if self.compiler.compiler_type == "unix":
            for extension in self.extensions:
                extension.extra_compile_args = UNIX_FLAGS
        super().build_extensions()


setup(
    ext_modules=[
        Extension("mlp_functional.fast._native", ["mlp_functional/fast/_native.c"], optional=True)
    ],
    cmdclass={"build_ext": BuildKernels},
)
