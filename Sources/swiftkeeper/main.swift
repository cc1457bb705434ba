print("swiftkeeper")
