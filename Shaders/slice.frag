#version 300 es
// A multiplanar reformatted slice: grey values through a window, with the label map's colours
// blended over them (nearest voxel, so label borders stay on voxel borders) and outlined.
precision highp float;
precision highp sampler3D;
precision highp usampler3D;

in vec2 ndc;

uniform mat4 screenToPatient;     // (ndc x, ndc y, 0, 1) → the patient point (mm) on the plane
uniform bool hasVolume;
uniform sampler3D volume;         // values / the texture's scale, linear filtering
uniform mat4 patientToTexture;    // patient (mm) → volume texture coordinates [0, 1]³
uniform vec2 window;              // texture values shown black and white
uniform bool hasLabels;
uniform usampler3D labels;        // label per voxel (0 = none)
uniform mat4 patientToLabel;      // patient (mm) → continuous label voxel index
uniform sampler2D labelColours;   // 256 × 256 RGBA: label l at (l % 256, l / 256)
uniform float overlayOpacity;
uniform vec2 pixelMM;             // one pixel's size on the plane, along its x and y (mm)
uniform mat4 screenAxes;          // columns 0 and 1: the plane's x and y directions (patient)

out vec4 fragment;

uint labelAt(vec3 p) {
    vec3 index = floor((patientToLabel * vec4(p, 1.0)).xyz + 0.5);
    ivec3 size = textureSize(labels, 0);
    if (any(lessThan(index, vec3(0.0))) || any(greaterThanEqual(index, vec3(size)))) return 0u;
    return texelFetch(labels, ivec3(index), 0).r;
}

void main() {
    vec3 p = (screenToPatient * vec4(ndc, 0.0, 1.0)).xyz;
    vec3 colour = vec3(0.0);
    if (hasVolume) {
        vec3 t = (patientToTexture * vec4(p, 1.0)).xyz;
        if (all(greaterThanEqual(t, vec3(0.0))) && all(lessThanEqual(t, vec3(1.0)))) {
            float v = texture(volume, t).r;
            colour = vec3(clamp((v - window.x) / (window.y - window.x), 0.0, 1.0));
        }
    }
    if (hasLabels) {
        uint label = labelAt(p);
        if (label != 0u) {
            vec4 c = texelFetch(labelColours, ivec2(int(label % 256u), int(label / 256u)), 0);
            // Outline: a pixel whose neighbour (one pixel away on the plane) has another label.
            vec3 dx = screenAxes[0].xyz * pixelMM.x, dy = screenAxes[1].xyz * pixelMM.y;
            bool edge = labelAt(p + dx) != label || labelAt(p - dx) != label || labelAt(p + dy) != label || labelAt(p - dy) != label;
            colour = mix(colour, c.rgb, edge ? 1.0 : overlayOpacity * c.a);
        }
    }
    fragment = vec4(colour, 1.0);
}
