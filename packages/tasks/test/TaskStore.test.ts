import { layerMemory } from "../src/TaskStore.ts"
import { storeConformance } from "./TaskStoreConformance.ts"

storeConformance("memory", layerMemory)
