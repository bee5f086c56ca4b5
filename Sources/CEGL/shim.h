// EGL 1.5 and OpenGL ES 3.2 (Debian libegl-dev, libgles-dev; Mesa's libegl-mesa0 renders on the CPU).
#define EGL_EGLEXT_PROTOTYPES 1
#define GL_GLEXT_PROTOTYPES 1
#include <EGL/egl.h>
#include <EGL/eglext.h>
#include <GLES3/gl32.h>
#include <GLES2/gl2ext.h>
