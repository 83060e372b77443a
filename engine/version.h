#ifndef SURGE_VERSION_H
#define SURGE_VERSION_H
#define SURGE_VERSION "0.1.0"
#endif
