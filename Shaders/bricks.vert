#version 300 es
// The outer faces of the bricks a ray must visit (empty-space skipping): corners in texture
// coordinates, drawn into a depth buffer that tells each ray where its first such brick starts.
layout(location = 0) in vec3 corner;

uniform mat4 textureToClip;  // texture coordinates → patient (mm) → clip

void main() {
    gl_Position = textureToClip * vec4(corner, 1.0);
}
