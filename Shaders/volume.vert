#version 300 es
// A triangle that covers the screen: the fragment shader works per pixel (a ray through the
// volume, or a point of a slice).
out vec2 ndc;
// For rays: the pixel's points on the near and far planes, homogeneous, in patient space (linear
// across the screen, so interpolated exactly; any point between is their mix). Unused by slices.
out vec4 nearPoint, farPoint;

uniform mat4 inverseViewProjection;  // clip → patient (mm)

void main() {
    vec2 corner = vec2(float((gl_VertexID << 1) & 2), float(gl_VertexID & 2));
    ndc = corner * 2.0 - 1.0;
    nearPoint = inverseViewProjection * vec4(ndc, -1.0, 1.0);
    farPoint = inverseViewProjection * vec4(ndc, 1.0, 1.0);
    gl_Position = vec4(ndc, 0.0, 1.0);
}
