#version 300 es
// Surfaces: positions in patient millimetres (LPS), normals pointing out.
layout(location = 0) in vec3 position;
layout(location = 1) in vec3 normal;

uniform mat4 modelViewProjection;
uniform mat4 modelView;

out vec3 viewNormal;
out vec3 viewPosition;

void main() {
    vec4 p = modelView * vec4(position, 1.0);
    viewPosition = p.xyz;
    viewNormal = mat3(modelView) * normal;
    gl_Position = modelViewProjection * vec4(position, 1.0);
}
