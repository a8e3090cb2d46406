from services.task.app import main

main()
